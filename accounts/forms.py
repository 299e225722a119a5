from django import forms


class ConnectForm(forms.Form):
    account_url = forms.URLField(label="Bank's OFX URL", max_length=500, assume_scheme="https")
    account_login = forms.CharField(label="Login", max_length=100)
    account_password = forms.CharField(label="Password", max_length=200, strip=False, widget=forms.PasswordInput)
