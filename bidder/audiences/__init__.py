"""Audience building: first-party events and exchange segments -> tags in the tag store.

``build_audiences`` is pure (events, bid-log users, ``now``, spec -> ``AudienceBuild``);
``apply_build`` writes the result into a ``TagStore``. ``rtb audiences build`` drives both.
"""

from bidder.audiences.build import AudienceBuild, AudienceSpec, apply_build, build_audiences

__all__ = ["AudienceBuild", "AudienceSpec", "apply_build", "build_audiences"]
