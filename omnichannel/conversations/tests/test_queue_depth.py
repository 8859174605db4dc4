"""The worker's queue-depth samples behind the supervisors' chart (SUP-1)."""

import json
from datetime import timedelta

from django.utils import timezone

from omnichannel.conversations import groups, worker
from omnichannel.conversations.models import QueueDepthSample


def test_worker_samples_each_queues_open_conversations_once_a_minute(
    chat_workstream, make_conversation, queue, other_queue, active_chat, sent_pushes, django_capture_on_commit_callbacks
):
    """SUP-1: one sample per queue and minute, counting Open work only; a second worker (or a
    second pass) in the same minute adds nothing; the supervisors hear of each new sample."""
    make_conversation(chat_workstream)
    make_conversation(chat_workstream)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert worker.sample_queue_depth(now) == 1
        assert worker.sample_queue_depth(now) == 0
    minute = now.replace(second=0, microsecond=0)
    assert dict(QueueDepthSample.objects.values_list("queue", "depth")) == {queue.pk: 2, other_queue.pk: 0}
    assert set(QueueDepthSample.objects.values_list("taken_at", flat=True)) == {minute}
    [(names, payload)] = sent_pushes
    assert names == (groups.SUPERVISORS,) and json.loads(json.dumps(payload)) == payload

    assert worker.sample_queue_depth(now + timedelta(minutes=1)) == 1
    assert QueueDepthSample.objects.count() == 4


def test_samples_older_than_a_day_are_dropped(queue):
    """SUP-1: the chart reads the last hour; a day of samples is kept, no more."""
    now = timezone.now()
    worker.sample_queue_depth(now - timedelta(days=2))
    assert QueueDepthSample.objects.count() == 1
    worker.sample_queue_depth(now)
    assert list(QueueDepthSample.objects.values_list("taken_at", flat=True)) == [now.replace(second=0, microsecond=0)]


def test_concurrent_samples_of_one_minute_are_stored_once(queue):
    """SUP-1: two workers that both found no sample for the minute store it once."""
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    QueueDepthSample.objects.bulk_create([QueueDepthSample(queue=queue, taken_at=minute, depth=7)])
    QueueDepthSample.objects.bulk_create(
        [QueueDepthSample(queue=queue, taken_at=minute, depth=9)], ignore_conflicts=True
    )
    assert list(QueueDepthSample.objects.values_list("depth", flat=True)) == [7]
