"""Wording shared by the summaries a person reads."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number: "1 task", "3 tasks", "0 identities"."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or noun + 's'}"
