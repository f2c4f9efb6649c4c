"""The reference model of mp's point-in-time contract (docs/pit-guide.md, issue 11) and the
generators that feed it. Standard library only: it shares nothing with mp-db, so the suite
that compares the two (``tests/test_reference_*.py``) can catch a wrong answer in either."""
