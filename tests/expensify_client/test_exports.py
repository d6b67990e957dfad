"""The public surface of expensify_client."""

from __future__ import annotations

import expensify_client


class TestPublicSurface:
    def test_all_is_sorted_and_complete(self):
        """__all__ lists exactly the public names of the package, sorted."""
        public = {
            name
            for name, value in vars(expensify_client).items()
            if not name.startswith("_")
            and getattr(value, "__module__", "").startswith("expensify_client")
        } | {name for name in vars(expensify_client) if name.isupper() and not name.startswith("_")}
        assert set(expensify_client.__all__) == public
        # isort-style order (ruff RUF022): constants first, then the rest case-sensitively.
        assert expensify_client.__all__ == sorted(
            expensify_client.__all__, key=lambda n: (not n.isupper(), n)
        )

    def test_every_name_importable(self):
        """Each listed name resolves on the package."""
        for name in expensify_client.__all__:
            assert getattr(expensify_client, name) is not None

    def test_exceptions_share_the_root(self):
        """Every exported exception derives from ExpensifyError."""
        errors = [
            getattr(expensify_client, n)
            for n in expensify_client.__all__
            if isinstance(getattr(expensify_client, n), type)
            and issubclass(getattr(expensify_client, n), Exception)
        ]
        assert len(errors) >= 15
        assert all(issubclass(e, expensify_client.ExpensifyError) for e in errors)
