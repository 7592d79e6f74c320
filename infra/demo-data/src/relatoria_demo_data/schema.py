"""The DDL of the demo reporting tables, split around the bulk load.

Tables are created bare (columns, NOT NULL, CHECK) before loading; primary keys, foreign keys
and indexes come after it, because building an index once over sorted data is far cheaper
than maintaining it, and checking foreign keys row by row, during a multi-million-row COPY.
"""

TABLES = ("departments", "employees", "payments", "transactions")
"""Every demo table, parents first."""

PAYMENT_STATUSES = ("pending", "paid", "overdue", "cancelled")
"""The values `demo.payments.status` accepts."""


def quote(identifier: str) -> str:
    """`identifier` quoted the way PostgreSQL quotes identifiers."""
    return '"' + identifier.replace('"', '""') + '"'


def create_tables(schema: str) -> list[str]:
    """Statements creating `schema` and its four tables, without keys or indexes."""
    s = quote(schema)
    statuses = ", ".join(f"'{status}'" for status in PAYMENT_STATUSES)
    return [
        f"CREATE SCHEMA {s}",
        f"""CREATE TABLE {s}.departments (
            id smallint PRIMARY KEY,
            code text UNIQUE NOT NULL,
            name text NOT NULL
        )""",
        f"""CREATE TABLE {s}.employees (
            id integer NOT NULL,
            department_id smallint NOT NULL,
            full_name text NOT NULL,
            email text NOT NULL,
            job_title text NOT NULL,
            hired_on date NOT NULL
        )""",
        f"""CREATE TABLE {s}.payments (
            id bigint NOT NULL,
            department_id smallint NOT NULL,
            employee_id integer NOT NULL,
            payee text NOT NULL,
            reference text NOT NULL,
            amount numeric(12, 2) NOT NULL,
            currency char(3) NOT NULL,
            due_on date NOT NULL,
            paid_on date,
            status text NOT NULL CHECK (status IN ({statuses}))
        )""",
        f"""CREATE TABLE {s}.transactions (
            id bigint NOT NULL,
            occurred_at timestamp without time zone NOT NULL,
            department_id smallint NOT NULL,
            employee_id integer NOT NULL,
            merchant text NOT NULL,
            category text NOT NULL,
            description text NOT NULL,
            amount numeric(12, 2) NOT NULL,
            currency char(3) NOT NULL,
            payment_method text NOT NULL
        )""",
    ]


def finish_tables(schema: str) -> list[str]:
    """Statements adding the keys and indexes once the rows are in."""
    s = quote(schema)
    return [
        f"ALTER TABLE {s}.employees ADD PRIMARY KEY (id)",
        f"ALTER TABLE {s}.payments ADD PRIMARY KEY (id)",
        f"ALTER TABLE {s}.transactions ADD PRIMARY KEY (id)",
        f"""ALTER TABLE {s}.employees
            ADD FOREIGN KEY (department_id) REFERENCES {s}.departments (id)""",
        f"""ALTER TABLE {s}.payments
            ADD FOREIGN KEY (department_id) REFERENCES {s}.departments (id),
            ADD FOREIGN KEY (employee_id) REFERENCES {s}.employees (id)""",
        f"""ALTER TABLE {s}.transactions
            ADD FOREIGN KEY (department_id) REFERENCES {s}.departments (id),
            ADD FOREIGN KEY (employee_id) REFERENCES {s}.employees (id)""",
        f"""CREATE INDEX transactions_occurred_at_id_idx
            ON {s}.transactions (occurred_at, id)""",
        f"""CREATE INDEX transactions_department_id_occurred_at_idx
            ON {s}.transactions (department_id, occurred_at)""",
        f"""CREATE INDEX payments_status_department_id_due_on_idx
            ON {s}.payments (status, department_id, due_on)""",
    ]
