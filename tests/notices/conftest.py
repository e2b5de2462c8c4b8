from tests.notices.compound import compound  # noqa: F401  (the fixture)
