"""The package's public surface."""

import proactive


def test_public_names_are_exported_sorted_and_importable() -> None:
    assert proactive.__all__ == sorted(proactive.__all__)
    for name in proactive.__all__:
        assert getattr(proactive, name) is not None


def test_every_error_is_a_proactive_error() -> None:
    for name in proactive.__all__:
        obj = getattr(proactive, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, proactive.ProactiveError)
