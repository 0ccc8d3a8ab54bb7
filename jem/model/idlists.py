"""Lists of CPU or GPU indices in Slurm's compact form ("0-3,8,10-11"), both ways."""


def id_list_text(ids: tuple[int, ...]) -> str:
    """'0-3,8' for (0, 1, 2, 3, 8); '' for none.

    >>> id_list_text((4, 0, 1, 2, 8))
    '0-2,4,8'
    """
    runs: list[str] = []
    ordered = sorted(set(ids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(runs)


def parse_id_list(text: str) -> tuple[int, ...]:
    """The indices of a compact list; ValueError for malformed text.

    >>> parse_id_list("0-2,4,8")
    (0, 1, 2, 4, 8)
    """
    ids: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        ids.extend(range(int(low), int(high or low) + 1))
    return tuple(ids)
