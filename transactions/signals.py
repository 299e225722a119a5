from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.models import Account

from .services import account_history_remove_totals


@receiver(pre_delete, sender=Account, dispatch_uid="transactions.account_history_remove_totals")
def account_deleted(sender, instance: Account, **kwargs) -> None:
    """Deleting an account cascades to its transactions; their totals go in the same transaction."""
    account_history_remove_totals(account=instance)
