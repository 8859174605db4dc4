"""Shared fixtures, one per entity: see omnichannel/testing/fixtures.py."""

from omnichannel.testing.fixtures import *  # noqa: F403
