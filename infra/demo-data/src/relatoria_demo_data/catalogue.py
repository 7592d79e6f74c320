"""The fixed vocabulary of the demo dataset: spending categories, job titles, cities, texts.

Faker supplies people and company names (see `pools`); what Faker has no notion of, such
as what a Marketing team spends money on or how an expense line is worded, is listed here.
"""

from dataclasses import dataclass
from datetime import date

CURRENCIES = ("BRL", "USD", "EUR")
"""Transaction and payment currencies."""

BRL_PER_UNIT = {"BRL": 1.0, "USD": 5.5, "EUR": 6.2}
"""Rough exchange rates, so a dinner costs about the same whatever the currency."""

PAYMENT_METHODS = ("Corporate card", "PIX", "Reimbursement", "Bank transfer", "Boleto")
"""`demo.transactions.payment_method` values."""


@dataclass(frozen=True)
class Category:
    """A spending category: how its amounts spread, who sells it, how its lines read."""

    name: str
    weight: float
    """Share of transactions, before a department's own leaning."""
    median_brl: float
    sigma: float
    """Log-normal spread of the amount around the median."""
    merchants: int
    """How many distinct merchants sell it."""
    merchant_patterns: tuple[tuple[str, str], ...]
    """(locale, pattern) with {last}, {first}, {city} or {company} to fill."""
    descriptions: tuple[str, ...]
    """Description templates with {m} (merchant), {c} and {c2} (cities), {n} (a count)."""
    currency_weights: tuple[float, float, float] = (90, 7, 3)
    method_weights: tuple[float, ...] = (68, 10, 14, 5, 3)
    """Weights over PAYMENT_METHODS."""


CATEGORIES: tuple[Category, ...] = (
    Category(
        name="Meals",
        weight=26,
        median_brl=75,
        sigma=0.6,
        merchants=420,
        merchant_patterns=(
            ("pt_BR", "Restaurante {last}"),
            ("pt_BR", "Padaria {last}"),
            ("pt_BR", "Churrascaria {city}"),
            ("pt_BR", "Bistrô {last}"),
            ("pt_BR", "Empório {last}"),
            ("pt_BR", "Café {city}"),
            ("en_US", "{last}'s Grill"),
            ("en_US", "The {last} Diner"),
        ),
        descriptions=(
            "Almoço com cliente — {m}",
            "Team lunch at {m}",
            "Jantar de equipe ({n} pessoas)",
            "Café da manhã — viagem a {c}",
            "Coffee with candidate",
            "Lanche durante treinamento",
            "Almoço de integração",
            "Dinner with prospect in {c}",
            "Refeição — plantão",
        ),
    ),
    Category(
        name="Ground transport",
        weight=18,
        median_brl=48,
        sigma=0.7,
        merchants=160,
        merchant_patterns=(
            ("pt_BR", "Táxi {city}"),
            ("pt_BR", "{last} Transportes"),
            ("pt_BR", "Estacionamento {last}"),
            ("pt_BR", "Locadora {last}"),
            ("en_US", "{city} Cab Co."),
            ("en_US", "{last} Car Rental"),
        ),
        descriptions=(
            "Táxi aeroporto → hotel",
            "Ride to client office in {c}",
            "Estacionamento — reunião externa",
            "Pedágio {c} – {c2}",
            "Aluguel de carro ({n} dias)",
            "Corrida até o escritório de {c}",
            "Airport shuttle",
        ),
        method_weights=(60, 8, 28, 2, 2),
    ),
    Category(
        name="Travel",
        weight=8,
        median_brl=1100,
        sigma=0.6,
        merchants=90,
        merchant_patterns=(
            ("pt_BR", "{last} Viagens e Turismo"),
            ("pt_BR", "Aerolíneas {last}"),
            ("en_US", "{city} Travel Agency"),
            ("en_US", "{last} Tours"),
        ),
        descriptions=(
            "Passagem aérea {c} → {c2}",
            "Flight {c} – {c2}, economy",
            "Remarcação de voo — {c}",
            "Airline seat upgrade",
            "Taxa de bagagem despachada",
            "Passagem de ônibus {c} – {c2}",
        ),
        currency_weights=(70, 20, 10),
        method_weights=(85, 2, 8, 5, 0),
    ),
    Category(
        name="Lodging",
        weight=6,
        median_brl=650,
        sigma=0.55,
        merchants=180,
        merchant_patterns=(
            ("pt_BR", "Hotel {last}"),
            ("pt_BR", "Pousada {last}"),
            ("pt_BR", "{city} Palace Hotel"),
            ("en_US", "{last} Suites"),
            ("en_US", "{city} Grand Hotel"),
        ),
        descriptions=(
            "Hospedagem {n} noites — {m}",
            "Hotel stay, {n} nights ({c})",
            "Diária de hotel — visita a cliente em {c}",
            "Late check-out fee",
            "Lavanderia do hotel",
            "Conference hotel, {n} nights",
        ),
        currency_weights=(72, 18, 10),
        method_weights=(85, 2, 10, 3, 0),
    ),
    Category(
        name="Software",
        weight=8,
        median_brl=420,
        sigma=1.1,
        merchants=160,
        merchant_patterns=(
            ("en_US", "{last}soft"),
            ("en_US", "{last} Cloud"),
            ("en_US", "{last} Labs"),
            ("en_US", "{last}.io"),
            ("en_US", "{last} Analytics"),
            ("pt_BR", "{last} Sistemas"),
        ),
        descriptions=(
            "Assinatura mensal — {m}",
            "Annual license renewal: {m}",
            "Cloud hosting invoice",
            "{n} user seats — {m}",
            "API usage overage",
            "Licença de software de design",
        ),
        currency_weights=(40, 50, 10),
        method_weights=(88, 0, 2, 10, 0),
    ),
    Category(
        name="Office supplies",
        weight=8,
        median_brl=140,
        sigma=0.8,
        merchants=140,
        merchant_patterns=(
            ("pt_BR", "Papelaria {last}"),
            ("pt_BR", "{last} Suprimentos"),
            ("pt_BR", "{company}"),
            ("en_US", "{company} Office Supply"),
        ),
        descriptions=(
            "Material de escritório",
            "Printer toner and paper",
            "Cadeiras para sala de reunião",
            "Post-its, canetas e cadernos",
            "Office snacks",
            "Café e açúcar para a copa",
        ),
        method_weights=(60, 15, 10, 5, 10),
    ),
    Category(
        name="Hardware",
        weight=3,
        median_brl=2800,
        sigma=0.7,
        merchants=90,
        merchant_patterns=(
            ("pt_BR", "{last} Informática"),
            ("pt_BR", "TecnoStore {last}"),
            ("en_US", "{company} Electronics"),
        ),
        descriptions=(
            "Notebook para novo colaborador",
            'Monitor 27" e suporte',
            "USB-C docking stations ({n})",
            "Headsets para o suporte",
            "Replacement laptop battery",
            "Teclados e mouses ({n} unidades)",
        ),
        currency_weights=(80, 17, 3),
        method_weights=(70, 5, 0, 15, 10),
    ),
    Category(
        name="Training",
        weight=3,
        median_brl=1400,
        sigma=0.7,
        merchants=110,
        merchant_patterns=(
            ("pt_BR", "Instituto {last}"),
            ("pt_BR", "Escola {last} de Negócios"),
            ("en_US", "{last} Academy"),
            ("en_US", "{city} Tech Conference"),
        ),
        descriptions=(
            "Inscrição em conferência — {c}",
            "Online course: {m}",
            "Workshop de liderança",
            "Certificação profissional",
            "Livros técnicos",
            "Conference ticket — {m}",
        ),
        currency_weights=(65, 28, 7),
        method_weights=(75, 5, 12, 8, 0),
    ),
    Category(
        name="Advertising",
        weight=3,
        median_brl=3500,
        sigma=1.0,
        merchants=120,
        merchant_patterns=(
            ("pt_BR", "{last} Mídia"),
            ("pt_BR", "Agência {last}"),
            ("pt_BR", "{last} Publicidade"),
            ("en_US", "{company} Ads"),
        ),
        descriptions=(
            "Campanha de mídia paga — {m}",
            "Sponsored posts campaign",
            "Social media ads",
            "Impressão de banners para evento",
            "Brindes para feira em {c}",
            "Patrocínio de evento em {c}",
        ),
        currency_weights=(70, 25, 5),
        method_weights=(70, 5, 0, 20, 5),
    ),
    Category(
        name="Telecom",
        weight=6,
        median_brl=220,
        sigma=0.5,
        merchants=50,
        merchant_patterns=(
            ("pt_BR", "{last} Telecom"),
            ("pt_BR", "Net{last}"),
            ("en_US", "{company} Wireless"),
        ),
        descriptions=(
            "Plano corporativo de celular",
            "Internet do escritório — {c}",
            "Roaming internacional",
            "Conference call minutes",
            "Chip de dados para notebook",
        ),
        method_weights=(55, 5, 5, 15, 20),
    ),
    Category(
        name="Fuel",
        weight=6,
        median_brl=230,
        sigma=0.4,
        merchants=160,
        merchant_patterns=(
            ("pt_BR", "Auto Posto {last}"),
            ("pt_BR", "Posto {city}"),
            ("pt_BR", "{last} Combustíveis"),
            ("en_US", "{last} Gas Station"),
        ),
        descriptions=(
            "Abastecimento — viagem a {c}",
            "Gasolina veículo da frota",
            "Diesel — caminhão de entrega",
            "Fuel for rental car",
            "Etanol — visita técnica",
        ),
        method_weights=(70, 10, 18, 0, 2),
    ),
    Category(
        name="Shipping",
        weight=6,
        median_brl=180,
        sigma=0.9,
        merchants=100,
        merchant_patterns=(
            ("pt_BR", "{last} Logística"),
            ("pt_BR", "Transportadora {last}"),
            ("en_US", "{company} Express"),
        ),
        descriptions=(
            "Frete de mercadorias para {c}",
            "Envio de documentos (Sedex)",
            "Courier — contract originals",
            "Devolução de equipamento",
            "Armazenagem — {n} paletes",
            "Coleta expressa em {c}",
        ),
        method_weights=(30, 25, 0, 25, 20),
    ),
)
"""Every spending category; the merchant counts add up to about 1,800."""

DEPARTMENT_HEADCOUNT: dict[str, float] = {
    "FIN": 6, "ENG": 22, "SAL": 16, "MKT": 7, "OPS": 8, "HR": 4,
    "LEG": 2, "SUP": 15, "PRD": 6, "LOG": 7, "PRO": 3, "ITS": 4,
}  # fmt: skip
"""Relative size of each department."""

DEPARTMENT_SPENDING: dict[str, float] = {
    "FIN": 0.7, "ENG": 0.8, "SAL": 1.8, "MKT": 1.6, "OPS": 1.2, "HR": 1.0,
    "LEG": 0.8, "SUP": 0.5, "PRD": 1.0, "LOG": 2.0, "PRO": 1.3, "ITS": 1.2,
}  # fmt: skip
"""How often a department's people spend, relative to each other (Sales travels)."""

DEPARTMENT_LEANING: dict[str, dict[str, float]] = {
    "FIN": {"Software": 1.5},
    "ENG": {"Software": 3, "Hardware": 2, "Training": 1.5},
    "SAL": {"Travel": 3, "Lodging": 3, "Meals": 1.5, "Ground transport": 2},
    "MKT": {"Advertising": 8, "Travel": 1.5},
    "OPS": {"Office supplies": 2, "Shipping": 2, "Fuel": 2},
    "HR": {"Training": 4, "Meals": 1.5},
    "LEG": {"Training": 2, "Shipping": 1.5},
    "SUP": {"Telecom": 2},
    "PRD": {"Software": 2, "Travel": 1.5},
    "LOG": {"Fuel": 6, "Shipping": 6},
    "PRO": {"Office supplies": 3, "Shipping": 2},
    "ITS": {"Hardware": 5, "Software": 3, "Telecom": 3},
}
"""Category weight multipliers by department (Marketing buys ads, Logistics fuel)."""

JOB_TITLES: dict[str, tuple[str, ...]] = {
    "FIN": ("Financial Analyst", "Senior Accountant", "Accounts Payable Specialist",
            "Treasury Analyst", "FP&A Manager", "Controller"),
    "ENG": ("Software Engineer", "Senior Software Engineer", "QA Engineer", "Data Engineer",
            "Site Reliability Engineer", "Staff Engineer", "Engineering Manager"),
    "SAL": ("Account Executive", "Sales Development Representative", "Key Account Manager",
            "Sales Operations Analyst", "Sales Manager"),
    "MKT": ("Marketing Analyst", "Content Strategist", "Brand Designer", "Events Coordinator",
            "Growth Marketing Manager"),
    "OPS": ("Operations Analyst", "Facilities Coordinator", "Process Improvement Specialist",
            "Operations Manager"),
    "HR": ("People Partner", "Recruiter", "Compensation Analyst",
           "Learning & Development Specialist", "Head of People"),
    "LEG": ("Paralegal", "Legal Counsel", "Contracts Manager", "Compliance Officer"),
    "SUP": ("Support Agent", "Senior Support Agent", "Technical Support Engineer",
            "Customer Success Manager", "Support Team Lead"),
    "PRD": ("Product Analyst", "Product Designer", "UX Researcher", "Product Manager",
            "Senior Product Manager"),
    "LOG": ("Driver", "Logistics Coordinator", "Inventory Analyst", "Warehouse Supervisor",
            "Fleet Manager"),
    "PRO": ("Buyer", "Procurement Analyst", "Vendor Manager", "Category Manager"),
    "ITS": ("IT Support Analyst", "Systems Administrator", "Network Engineer",
            "Security Analyst", "IT Manager"),
}  # fmt: skip
"""Job titles by department, most common first."""

CITIES = (
    "São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Porto Alegre", "Recife",
    "Salvador", "Fortaleza", "Brasília", "Goiânia", "Florianópolis", "Campinas", "Manaus",
    "Belém", "Vitória", "Ribeirão Preto", "Joinville", "Lisboa", "Porto", "Buenos Aires",
    "Santiago", "Bogotá", "Ciudad de México", "New York", "Miami", "San Francisco", "London",
    "Madrid", "Berlin", "Paris",
)  # fmt: skip
"""Real cities, Brazilian ones first (they are picked more often)."""

FORMULA_LIKE_DESCRIPTIONS = (
    "=SUM(F2:F31) conferir com extrato",
    "+55 11 98765-4321 (motorista) corrida extra",
    "@financeiro favor validar nota",
    "=== reembolso manual ===",
    "+1 (415) 555-0134 conference call",
    "@joao.silva almoço de boas-vindas",
    '=HYPERLINK("http://example.com/nota","nota fiscal")',
    "+ despesa extra aprovada por e-mail",
)
"""Texts real expense lines contain that spreadsheets would read as formulas."""

FORMULA_LIKE_RATE = 1 / 2000
"""How often a transaction's description is one of FORMULA_LIKE_DESCRIPTIONS."""

HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 1, 2.5, 5, 9, 10, 10,
    12, 11, 9, 9, 8, 7, 5, 4, 3, 2, 1, 0.5,
)  # fmt: skip
"""When in the day people spend: business hours, a lunch peak, a quiet night."""

WEEKDAY_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.95, 0.3, 0.18)
"""Monday to Sunday."""

HOLIDAYS = frozenset(
    {
        date(2025, 9, 7), date(2025, 10, 12), date(2025, 11, 2), date(2025, 11, 15),
        date(2025, 11, 20), date(2025, 12, 25), date(2026, 1, 1), date(2026, 2, 16),
        date(2026, 2, 17), date(2026, 4, 3), date(2026, 4, 21), date(2026, 5, 1),
        date(2026, 6, 4),
    }
)  # fmt: skip
"""Brazilian national holidays (and Carnival) inside the demo period: quiet days."""

PAYEE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("pt_BR", "{company}"), ("pt_BR", "{company}"), ("pt_BR", "{last} Serviços Ltda."),
    ("pt_BR", "{last} Consultoria"), ("pt_BR", "{last} & {last2} Advogados"),
    ("en_US", "{company}"), ("en_US", "{last} Consulting LLC"),
)  # fmt: skip
"""How supplier names are formed; pt_BR ones are billed with an NF-e number."""

PAYEES = 300
"""How many distinct suppliers invoice the company."""

PAYMENT_STATUS_WEIGHTS: dict[str, float] = {
    "paid": 74, "pending": 15, "overdue": 5, "cancelled": 6,
}  # fmt: skip
"""The status mix of demo.payments."""
