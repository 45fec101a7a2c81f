"""The twin's subscriptions are the cloud's: both come from ``salesphere.limits``.

Read back from the real emulator (not from the request the twin sent) and compared with
what the Pulumi program declares for prod, so an ack deadline or a dead-letter route
cannot differ between a laptop and production.
"""

from __future__ import annotations

import pytest

from infra.mocking import run_program
from salesphere import limits, names
from salesphere.gcp import clients

pytestmark = pytest.mark.twin


def test_every_subscription_matches_the_cloud_definition(quiet_twin) -> None:  # type: ignore[no-untyped-def]
    settings = quiet_twin.settings
    subscriber = clients.subscriber(settings)
    cloud = {
        r.inputs["name"]: r.inputs
        for r in run_program("prod").of_type("gcp:pubsub/subscription:Subscription")
    }
    assert set(cloud) == set(names.SUBSCRIPTIONS)
    for sub, topic in names.SUBSCRIPTIONS.items():
        policy = limits.SUBSCRIPTIONS[sub]
        twin = subscriber.get_subscription(
            request={"subscription": clients.subscription_path(settings, sub)}
        )
        assert twin.topic.endswith(f"/topics/{topic}")
        assert (
            twin.ack_deadline_seconds == policy.ack_deadline_s == cloud[sub]["ackDeadlineSeconds"]
        )
        parked = twin.dead_letter_policy.dead_letter_topic
        if policy.dead_letter_topic is None:
            assert not parked and "deadLetterPolicy" not in cloud[sub]
        else:
            assert parked.endswith(f"/topics/{policy.dead_letter_topic}")
            assert cloud[sub]["deadLetterPolicy"]["deadLetterTopic"].endswith(
                f"/topics/{policy.dead_letter_topic}"
            )
            assert (
                twin.dead_letter_policy.max_delivery_attempts
                == policy.max_delivery_attempts
                == cloud[sub]["deadLetterPolicy"]["maxDeliveryAttempts"]
            )
