"""Command-line parsing with the rules and messages of GNU getopt_long, as Slurm's commands use it.

Long options match on a unique prefix (`--part` for `--partition`); an option
takes no argument, a required one (`--time=5`, `--time 5`, `-t5`, `-t 5`) or an
optional one (`--nice`, `--nice=5`, never `--nice 5`). Parsing stops at the first
operand when `stop_at_operand` (sbatch: what follows the script belongs to it),
else operands and options may be interleaved (scancel 12 -s USR1).
"""

from dataclasses import dataclass

NONE, REQUIRED, OPTIONAL = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Option:
    """One option: its long name, short letter (or ""), whether it takes an argument, and its key."""

    long: str
    short: str = ""
    arg: int = NONE
    key: str = ""

    @property
    def name(self) -> str:
        return self.key or self.long.replace("-", "_")


class UsageError(Exception):
    """A command line getopt rejects; the message is what Slurm prints (after `<prog>: `)."""


class OptionTable:
    """The options of one command."""

    def __init__(self, options: list[Option]):
        self.options = options
        self._long = {o.long: o for o in options if o.long}
        self._short = {o.short: o for o in options if o.short}

    def by_long(self, name: str) -> Option:
        """The option named exactly `name` (no prefix matching)."""
        return self._long[name]

    def _find_long(self, name: str) -> Option:
        if name in self._long:
            return self._long[name]
        matches = [o for n, o in self._long.items() if n.startswith(name)]
        unique = {o.name for o in matches}
        if len(unique) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"unrecognized option '--{name}'")
        raise UsageError(f"option '--{name}' is ambiguous; possibilities:"
                         + "".join(f" '--{o.long}'" for o in matches))

    def parse(self, argv: list[str], *, stop_at_operand: bool) -> tuple[list[tuple[Option, str | None]], list[str]]:
        """Return ([(option, value)] in command-line order, operands)."""
        found: list[tuple[Option, str | None]] = []
        operands: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                operands.extend(argv[i:])
                break
            if arg.startswith("--"):
                name, has_eq, value = arg[2:].partition("=")
                option = self._find_long(name)
                if option.arg == NONE:
                    if has_eq:
                        raise UsageError(f"option '--{option.long}' doesn't allow an argument")
                    found.append((option, None))
                elif has_eq:
                    found.append((option, value))
                elif option.arg == OPTIONAL:
                    found.append((option, None))
                elif i < len(argv):
                    found.append((option, argv[i]))
                    i += 1
                else:
                    raise UsageError(f"option '--{option.long}' requires an argument")
            elif arg.startswith("-") and arg != "-":
                j = 1
                while j < len(arg):
                    letter = arg[j]
                    option = self._short.get(letter)
                    if option is None:
                        raise UsageError(f"invalid option -- '{letter}'")
                    rest = arg[j + 1:]
                    if option.arg == NONE:
                        found.append((option, None))
                        j += 1
                        continue
                    if rest:
                        found.append((option, rest))
                    elif option.arg == OPTIONAL:
                        found.append((option, None))
                    elif i < len(argv):
                        found.append((option, argv[i]))
                        i += 1
                    else:
                        raise UsageError(f"option requires an argument -- '{letter}'")
                    break
            else:
                operands.append(arg)
                if stop_at_operand:
                    operands.extend(argv[i:])
                    break
        return found, operands
