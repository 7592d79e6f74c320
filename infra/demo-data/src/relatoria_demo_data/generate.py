"""Row generators for the demo tables: deterministic, streaming, cheap per row.

Each generator owns a `random.Random` seeded from the dataset seed and the table's name, so
the same seed and sizes give the same rows, and changing the payment count does not shift the
transactions. Rows are tuples in the column order of `*_COLUMNS`, ready for COPY.
"""

import math
import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from relatoria_demo_data.catalogue import (
    BRL_PER_UNIT,
    CATEGORIES,
    CITIES,
    CURRENCIES,
    DEPARTMENT_LEANING,
    DEPARTMENT_SPENDING,
    FORMULA_LIKE_DESCRIPTIONS,
    FORMULA_LIKE_RATE,
    HOLIDAYS,
    HOUR_WEIGHTS,
    PAYMENT_METHODS,
    PAYMENT_STATUS_WEIGHTS,
    WEEKDAY_WEIGHTS,
    Category,
)
from relatoria_demo_data.pools import Pools, department_ids, skewed
from relatoria_shared.report_types.demo_dataset import DEPARTMENTS, PERIOD_END, PERIOD_START

DepartmentRow = tuple[int, str, str]
EmployeeRow = tuple[int, int, str, str, str, date]
PaymentRow = tuple[int, int, int, str, str, Decimal, str, date, date | None, str]
TransactionRow = tuple[int, datetime, int, int, str, str, str, Decimal, str, str]

DEPARTMENT_COLUMNS = ("id", "code", "name")
EMPLOYEE_COLUMNS = ("id", "department_id", "full_name", "email", "job_title", "hired_on")
PAYMENT_COLUMNS = (
    "id", "department_id", "employee_id", "payee", "reference",
    "amount", "currency", "due_on", "paid_on", "status",
)  # fmt: skip
TRANSACTION_COLUMNS = (
    "id", "occurred_at", "department_id", "employee_id", "merchant",
    "category", "description", "amount", "currency", "payment_method",
)  # fmt: skip

MAX_TRANSACTION_CENTS = 25_000_000
MAX_PAYMENT_CENTS = 150_000_000
PAYMENT_MEDIAN_BRL = 4800.0
PAYMENT_SIGMA = 1.1
PAYMENT_CURRENCY_WEIGHTS = (85, 10, 5)


def default_payments(rows: int) -> int:
    """How many payments go with `rows` transactions when not told: max(2000, rows // 50)."""
    return max(2000, rows // 50)


def department_rows() -> list[DepartmentRow]:
    """demo.departments: the shared DEPARTMENTS, ids 1..12 in their order."""
    ids = department_ids()
    return [(ids[code], code, name) for code, name in DEPARTMENTS.items()]


def employee_rows(pools: Pools) -> list[EmployeeRow]:
    """demo.employees, straight from the pool."""
    return [
        (e.id, e.department_id, e.full_name, e.email, e.job_title, e.hired_on)
        for e in pools.employees
    ]


def cents_to_decimal(cents: int) -> Decimal:
    """An amount in cents as a 2-decimal `Decimal` (what numeric(12,2) takes)."""
    return Decimal(cents).scaleb(-2)


def period_days() -> list[date]:
    """Every day of the demo period."""
    days = (PERIOD_END - PERIOD_START).days + 1
    return [PERIOD_START + timedelta(days=offset) for offset in range(days)]


def _day_weight(day: date, position: float) -> float:
    """How busy `day` is: weekdays, holidays, month end, year-end lull, a growth trend."""
    weight = WEEKDAY_WEIGHTS[day.weekday()]
    if day in HOLIDAYS:
        weight *= 0.25
    if (day + timedelta(days=3)).month != day.month:
        weight *= 1.15  # month-end closing
    if (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day <= 10):
        weight *= 0.8  # holidays and vacations
    return weight * (1 + 0.15 * position)


def daily_counts(rows: int) -> list[tuple[date, int]]:
    """`rows` split over the period's days by how busy each is; the counts add up exactly."""
    days = period_days()
    weights = [_day_weight(day, index / len(days)) for index, day in enumerate(days)]
    total = sum(weights)
    shares = [rows * weight / total for weight in weights]
    counts = [int(share) for share in shares]
    # Largest remainders get the rows the floors left over (ties by date: deterministic).
    by_remainder = sorted(range(len(days)), key=lambda i: (counts[i] - shares[i], i))
    for index in by_remainder[: rows - sum(counts)]:
        counts[index] += 1
    return list(zip(days, counts, strict=True))


@dataclass(frozen=True)
class _CategoryDraw:
    """One category, prepared for fast per-row draws."""

    name: str
    merchants: tuple[str, ...]
    descriptions: tuple[tuple[str, bool], ...]
    """(template, whether it has fields to fill)."""
    mu: float
    sigma: float
    currency_cum: list[float]
    method_cum: list[float]

    @classmethod
    def of(cls, category: Category, merchants: tuple[str, ...]) -> "_CategoryDraw":
        return cls(
            name=category.name,
            merchants=merchants,
            descriptions=tuple((text, "{" in text) for text in category.descriptions),
            mu=math.log(category.median_brl),
            sigma=category.sigma,
            currency_cum=list(accumulate(category.currency_weights)),
            method_cum=list(accumulate(category.method_weights)),
        )


def _spenders(pools: Pools, rng: random.Random) -> list[tuple[int, int]]:
    """(employee id, department id), each employee repeated by how much they spend.

    A uniform draw from this list is a weighted draw of the spender, at the cost of one index.
    """
    spending = {index: DEPARTMENT_SPENDING[code] for code, index in department_ids().items()}
    spenders = []
    for employee in pools.employees:
        personal = rng.choice((0.5, 1, 1, 1, 1.5, 2, 3))  # a few people travel a lot
        copies = max(1, round(2 * spending[employee.department_id] * personal))
        spenders.extend([(employee.id, employee.department_id)] * copies)
    return spenders


def _category_cums() -> dict[int, list[float]]:
    """Department id -> cumulative category weights, leaning toward what it buys."""
    ids = department_ids()
    return {
        ids[code]: list(
            accumulate(
                category.weight * DEPARTMENT_LEANING[code].get(category.name, 1.0)
                for category in CATEGORIES
            )
        )
        for code in DEPARTMENTS
    }


def transaction_rows(pools: Pools, rows: int, seed: int) -> Iterator[TransactionRow]:
    """demo.transactions: `rows` of them, ids 1..rows in occurred_at order."""
    rng = random.Random(f"{seed}:transactions")  # noqa: S311 - reproducible, not secret
    spenders = _spenders(pools, rng)
    category_cums = _category_cums()
    draws = [_CategoryDraw.of(c, pools.merchants[c.name]) for c in CATEGORIES]
    hour_cum = list(accumulate(HOUR_WEIGHTS))
    rates = [BRL_PER_UNIT[currency] for currency in CURRENCIES]
    hours = range(24)

    # Locals: this loop runs millions of times.
    rand, gauss, exp = rng.random, rng.gauss, math.exp
    n_spenders, n_cities, n_formula = len(spenders), len(CITIES), len(FORMULA_LIKE_DESCRIPTIONS)
    currencies, methods = CURRENCIES, PAYMENT_METHODS
    seconds = [timedelta(seconds=s) for s in range(86_400)]

    transaction_id = 0
    for day, count in daily_counts(rows):
        midnight = datetime(day.year, day.month, day.day)
        day_hours = rng.choices(hours, cum_weights=hour_cum, k=count)
        times = sorted(hour * 3600 + int(rand() * 3600) for hour in day_hours)
        for second in times:
            transaction_id += 1
            employee_id, department_id = spenders[int(rand() * n_spenders)]
            cum = category_cums[department_id]
            draw = draws[bisect(cum, rand() * cum[-1])]
            merchants = draw.merchants
            merchant = merchants[int(len(merchants) * rand() ** 2)]  # regulars dominate
            if rand() < FORMULA_LIKE_RATE:
                description = FORMULA_LIKE_DESCRIPTIONS[int(rand() * n_formula)]
            else:
                template, has_fields = draw.descriptions[int(rand() * len(draw.descriptions))]
                if has_fields:
                    city = int(n_cities * rand() ** 1.8)
                    other = (city + 1 + int(rand() * (n_cities - 1))) % n_cities
                    description = template.format(
                        m=merchant, c=CITIES[city], c2=CITIES[other], n=2 + int(rand() * 6)
                    )
                else:
                    description = template
            currency_index = bisect(draw.currency_cum, rand() * draw.currency_cum[-1])
            brl = exp(draw.mu + draw.sigma * gauss())
            cents = min(MAX_TRANSACTION_CENTS, max(50, int(brl * 100 / rates[currency_index])))
            yield (
                transaction_id,
                midnight + seconds[second],
                department_id,
                employee_id,
                merchant,
                draw.name,
                description,
                Decimal(cents).scaleb(-2),
                currencies[currency_index],
                methods[bisect(draw.method_cum, rand() * draw.method_cum[-1])],
            )


def _reference(rng: random.Random, locale: str, due_on: date) -> str:
    """An invoice reference the way the supplier's country writes it."""
    if locale == "pt_BR":
        number = rng.randrange(1, 1_000_000_000)
        return f"NF-e {number // 1_000_000:03d}.{number // 1000 % 1000:03d}.{number % 1000:03d}"
    return f"INV-{due_on.year}-{rng.randrange(1, 100_000):05d}"


def _payment_dates(rng: random.Random, status: str) -> tuple[date, date | None]:
    """(due_on, paid_on) as of the period's end: pending bills fall due at its close,
    overdue ones a little earlier, and only paid ones have a payment date."""
    days = (PERIOD_END - PERIOD_START).days
    if status == "pending":
        return PERIOD_END - timedelta(days=rng.randrange(60)), None
    if status == "overdue":
        return PERIOD_END - timedelta(days=rng.randrange(15, 120)), None
    due_on = PERIOD_START + timedelta(days=rng.randrange(days - 5))
    if status != "paid":
        return due_on, None
    # Mostly on time, some early, a tail paid late.
    paid_on = due_on + timedelta(days=round(rng.triangular(-10, 20, -1)))
    return due_on, max(PERIOD_START, min(PERIOD_END, paid_on))


def payment_rows(pools: Pools, count: int, seed: int) -> Iterator[PaymentRow]:
    """demo.payments: `count` supplier invoices with a realistic mix of statuses."""
    rng = random.Random(f"{seed}:payments")  # noqa: S311 - reproducible, not secret
    statuses = list(PAYMENT_STATUS_WEIGHTS)
    status_cum = list(accumulate(PAYMENT_STATUS_WEIGHTS.values()))
    currency_cum = list(accumulate(PAYMENT_CURRENCY_WEIGHTS))
    mu = math.log(PAYMENT_MEDIAN_BRL)
    employees, payees = pools.employees, pools.payees
    for payment_id in range(1, count + 1):
        status = statuses[bisect(status_cum, rng.random() * status_cum[-1])]
        employee = employees[int(rng.random() * len(employees))]
        payee = payees[skewed(rng, len(payees), 1.5)]
        due_on, paid_on = _payment_dates(rng, status)
        currency_index = bisect(currency_cum, rng.random() * currency_cum[-1])
        currency = CURRENCIES[currency_index]
        brl = rng.lognormvariate(mu, PAYMENT_SIGMA)
        cents = min(MAX_PAYMENT_CENTS, max(5000, int(brl * 100 / BRL_PER_UNIT[currency])))
        yield (
            payment_id,
            employee.department_id,
            employee.id,
            payee.name,
            _reference(rng, payee.locale, due_on),
            cents_to_decimal(cents),
            currency,
            due_on,
            paid_on,
            status,
        )
