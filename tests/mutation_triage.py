"""The mutants mutmut generates that cannot change any result, each with the reason; tests/mutate.py
leaves them out of the Python scores. A name is mutmut's (``mutmut show NAME`` prints the edit)."""

EQUIVALENT: dict[str, str] = {
}
