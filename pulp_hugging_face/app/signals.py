"""Announce the changes that content processes may remember (`memory`).

A Hugging Face distribution may carry any content guard, so the receivers are connected for
every concrete distribution, remote, content guard and domain model (by sender: a receiver for
all senders would cost every bulk delete of the installation its fast path). `announce` goes
out in the saving transaction, from whichever process saves (API, worker).
"""

from django.apps import apps
from django.db.models.signals import post_delete, post_save

from pulpcore.plugin.models import ContentGuard, Distribution, Domain, Remote

from .memory import CONFIGURATION, REPOSITORY, announce
from .models import HuggingFaceRepository

CONFIGURATION_MODELS = (Distribution, Remote, ContentGuard, Domain)


def _configuration_changed(sender, instance, using="default", raw=False, **kwargs):
    if not raw:  # loaddata has no content process to tell yet
        announce(CONFIGURATION, using=using)


def _repository_changed(sender, instance, using="default", raw=False, **kwargs):
    if not raw:
        announce(REPOSITORY, instance.pk, using=using)


def connect():
    for model in apps.get_models():
        if issubclass(model, CONFIGURATION_MODELS):
            receiver = _configuration_changed
        elif issubclass(model, HuggingFaceRepository):
            receiver = _repository_changed
        else:
            continue
        for signal in (post_save, post_delete):
            signal.connect(receiver, sender=model, dispatch_uid=f"hf-memory-{signal}-{model}")
