"""Pools of realistic names built once with Faker: employees, merchants, payees.

Calling Faker per generated row would cost tens of microseconds each, minutes for millions of
rows; the row generators instead draw from these few thousand pre-built entries.
"""

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from relatoria_demo_data.catalogue import (
    CATEGORIES,
    CITIES,
    DEPARTMENT_HEADCOUNT,
    JOB_TITLES,
    PAYEE_PATTERNS,
    PAYEES,
)
from relatoria_shared.report_types.demo_dataset import DEPARTMENTS, PERIOD_START

EMPLOYEES = 5000
"""demo.employees always holds exactly this many people."""

EMAIL_DOMAIN = "relatoria.example"
"""A reserved domain (RFC 2606): no demo address can reach anyone."""

FIRST_HIRE = date(2009, 3, 2)
"""The company's first hire; everyone was hired before the demo period starts."""


@dataclass(frozen=True)
class Employee:
    """A demo.employees row."""

    id: int
    department_id: int
    full_name: str
    email: str
    job_title: str
    hired_on: date


@dataclass(frozen=True)
class Payee:
    """A supplier that invoices the company; `locale` decides how its references look."""

    name: str
    locale: str


@dataclass(frozen=True)
class Pools:
    """Everything the row generators draw names from."""

    employees: tuple[Employee, ...]
    merchants: dict[str, tuple[str, ...]]
    """Merchant names by category name."""
    payees: tuple[Payee, ...]


def department_ids() -> dict[str, int]:
    """Department code -> demo.departments.id: 1..12 in the shared DEPARTMENTS order."""
    return {code: index for index, code in enumerate(DEPARTMENTS, start=1)}


def ascii_slug(text: str) -> str:
    """`text` lower-cased with accents and anything but letters and digits dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def skewed(rng: random.Random, size: int, power: float) -> int:
    """An index below `size`, low ones more likely the larger `power` is (1 is uniform)."""
    return int(size * rng.random() ** power)


class _Names:
    """Faker per locale, seeded, plus the pool's own random draws."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}:pools")  # noqa: S311 - reproducible, not secret
        self.fakers: dict[str, Faker] = {}
        for locale in ("pt_BR", "en_US"):
            fake = Faker(locale)
            fake.seed_instance(seed)
            self.fakers[locale] = fake

    def city(self) -> str:
        # Brazilian cities come first in CITIES and are named most.
        return CITIES[skewed(self.rng, len(CITIES), 1.8)]

    def fill(self, locale: str, pattern: str) -> str:
        fake = self.fakers[locale]
        fields: dict[str, Callable[[], str]] = {
            "last": fake.last_name,
            "last2": fake.last_name,
            "first": fake.first_name,
            "company": fake.company,
            "city": self.city,
        }
        return pattern.format(**{key: make() for key, make in fields.items() if key in pattern})

    def unique(self, patterns: tuple[tuple[str, str], ...], taken: set[str]) -> str:
        """A name from one of `patterns` not in `taken` (then added to it)."""
        for attempt in range(100):
            name = self.fill(*self.rng.choice(patterns))
            name = name[0].upper() + name[1:]  # "da Silva Mídia" opens a name: "Da Silva"
            if attempt > 20:
                # The pattern space is running out: a branch city tells them apart.
                name = f"{name} {self.city()}"
            if name not in taken:
                taken.add(name)
                return name
        raise RuntimeError("could not make a unique name")  # pragma: no cover


def _employees(names: _Names) -> tuple[Employee, ...]:
    rng = names.rng
    codes = list(DEPARTMENT_HEADCOUNT)
    ids = department_ids()
    weights = [DEPARTMENT_HEADCOUNT[code] for code in codes]
    span = (PERIOD_START - FIRST_HIRE).days
    emails: set[str] = set()
    employees = []
    for employee_id in range(1, EMPLOYEES + 1):
        code = rng.choices(codes, weights)[0]
        fake = names.fakers["pt_BR" if rng.random() < 0.78 else "en_US"]
        first, last = fake.first_name(), fake.last_name()
        full_name = f"{first} {last}"
        if rng.random() < 0.3:
            # Brazilians often carry two surnames.
            full_name = f"{first} {fake.last_name()} {last}"
        local = f"{ascii_slug(first.split()[0])}.{ascii_slug(last)}"
        email, suffix = f"{local}@{EMAIL_DOMAIN}", 1
        while email in emails:
            suffix += 1
            email = f"{local}{suffix}@{EMAIL_DOMAIN}"
        emails.add(email)
        titles = JOB_TITLES[code]
        # More recent hires than old ones: the company grew.
        hired_on = FIRST_HIRE + timedelta(days=int(span * rng.random() ** 0.6))
        employees.append(
            Employee(
                id=employee_id,
                department_id=ids[code],
                full_name=full_name,
                email=email,
                job_title=titles[skewed(rng, len(titles), 1.6)],
                hired_on=min(hired_on, PERIOD_START - timedelta(days=1)),
            )
        )
    return tuple(employees)


def build_pools(seed: int) -> Pools:
    """The employees, merchants and payees of the dataset for `seed` (same seed, same pools)."""
    names = _Names(seed)
    employees = _employees(names)
    taken: set[str] = set()
    merchants = {
        category.name: tuple(
            names.unique(category.merchant_patterns, taken) for _ in range(category.merchants)
        )
        for category in CATEGORIES
    }
    payees = []
    for _ in range(PAYEES):
        locale, pattern = names.rng.choice(PAYEE_PATTERNS)
        payees.append(Payee(names.unique(((locale, pattern),), taken), locale))
    return Pools(employees, merchants, tuple(payees))
