from __future__ import annotations

from kirogate.upstream.auth.profiles import is_profile_arn, pick_profile_arn

EAST = "arn:aws:codewhisperer:us-east-1:123456789012:profile/EAST1"
WEST = "arn:aws:codewhisperer:eu-west-1:123456789012:profile/WEST1"


def test_a_profile_arn_must_match_the_codewhisperer_pattern() -> None:
    assert is_profile_arn(EAST)
    assert not is_profile_arn("arn:aws:s3:::bucket")
    assert not is_profile_arn(None)


def test_the_first_active_profile_is_picked() -> None:
    profiles = [{"arn": EAST, "status": "DISABLED"}, {"arn": WEST}, {"arn": EAST}]
    assert pick_profile_arn(profiles) == WEST


def test_a_profile_in_the_region_is_preferred() -> None:
    assert pick_profile_arn([{"arn": WEST}, {"arn": EAST}], region="us-east-1") == EAST
    assert pick_profile_arn([{"arn": WEST}], region="us-east-1") == WEST


def test_no_usable_profile_gives_none() -> None:
    assert pick_profile_arn([{"arn": "not-an-arn"}, {"status": "ACTIVE"}]) is None
