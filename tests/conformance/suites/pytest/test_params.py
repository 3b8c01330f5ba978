"""pytest-only cases: parametrized ids with odd characters, and an error in a fixture."""

import pytest


@pytest.fixture
def database():
    raise RuntimeError("could not connect to the database on port 5432")


@pytest.mark.parametrize("value", ["plain", "naïve «x» [1]", "a/b::c"])
def test_param(value):
    assert value == "plain"


def test_with_database(database):
    assert database
