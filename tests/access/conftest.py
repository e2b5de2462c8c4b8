from tests.renovations.estate import estate  # noqa: F401  (the fixture)
