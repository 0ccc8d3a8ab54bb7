"""Typed Python surface of jem._core.jsonrows."""

class RowsText:
    """The text written, as a read-only buffer: bytes(text), or written as it is."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int) -> memoryview: ...

def render_rows(
    prefix: bytes,                        # before the first row
    pieces: tuple[bytes, ...],            # (n_columns + 1,) the text around the cells of a row
    columns: list[list],                  # (n_columns, n_rows) str, int, float, bool, None (as json.dumps
                                          # writes them) or bytes (as they are)
    n_rows: int,
    separator: bytes,                     # between rows
    suffix: bytes,                        # after the last row
) -> RowsText: ...

def classify_columns(
    columns: list[list],                  # lists of values
) -> bytes: ...                           # per column: 0 scalars all written alike, 1 scalars, 2 not all scalars
