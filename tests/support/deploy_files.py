"""Readers of the deployment files the image and Compose tests check: Dockerfiles,
.dockerignore, the Compose env file."""

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    args: str

    def words(self) -> list[str]:
        """The arguments split the way a shell would."""
        return shlex.split(self.args)


@dataclass
class Stage:
    """One `FROM` and the instructions up to the next one."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """This stage's instructions of one kind."""
        return [i for i in self.instructions if i.keyword == keyword]

    def text(self) -> str:
        """The stage's instructions as one string."""
        return "\n".join(f"{i.keyword} {i.args}" for i in self.instructions)


def dockerfile_stages(path: Path) -> list[Stage]:
    """The stages of the Dockerfile at `path`, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"{path}: {keyword} before any FROM"
            stages[-1].instructions.append(Instruction(keyword, args.strip()))
    return stages


def _segment_regex(segment: str) -> str:
    if segment == "**":
        return "(?:[^/]+/)*"
    out = ""
    for char in segment:
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        else:
            out += re.escape(char)
    return out + "/"


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(_segment_regex(s) for s in pattern.strip("/").split("/"))
    # A pattern matches a path or any of its parent folders (Docker's semantics).
    return re.compile(body.removesuffix("/") + "(?:/.*)?$")


class DockerIgnore:
    """The root .dockerignore: which context paths a build never sees."""

    def __init__(self, path: Path) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            self.rules.append((negated, _pattern_regex(line.lstrip("!"))))

    def excludes(self, relative: str) -> bool:
        """True if the context path `relative` (posix, from the root) is left out."""
        excluded = False
        for negated, regex in self.rules:
            if regex.match(relative):
                excluded = not negated
        return excluded


def copied_sources(stage: Stage) -> list[str]:
    """The context paths a stage's `COPY` instructions (not `--from`) bring in."""
    sources: list[str] = []
    for instruction in stage.all("COPY"):
        words = instruction.words()
        if any(w.startswith("--from=") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])
    return sources


def context_files(source: str) -> list[str]:
    """The files of the build context under `source` (a file or a folder)."""
    path = ROOT / source
    if path.is_file():
        return [source]
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in path.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a Compose env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=value: {line!r}"
        values[key.strip()] = value.strip()
    return values
