"""The DMV sample ledger's tables, documents, ids and PartiQL statements.

Modelled on the QLDB DMV sample (`amazon-qldb-dmv-sample-*`): Person, DriversLicense, Vehicle
and VehicleRegistration with the sample's indexes and field names (the sample's DriversLicense
has `LicenseNumber`, its VehicleRegistration `LicensePlateNumber`). Values are built as parsed
Ion with the variety real applications produce: decimals of several scales (`90.25`, `9.0`,
`9`, `1.5d2`), timestamps of several precisions (`1963-08-19T`, minute precision with an
offset, milliseconds), nested structs, lists, and now and then typed nulls and symbols.

Statements are recorded as QLDB keeps them: with `?` placeholders, never the values (the
application ran them as parameterised statements).
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from amazon.ion.core import IonType, TimestampPrecision

from journal.ion_build import (
    ion_day,
    ion_decimal,
    ion_int,
    ion_list,
    ion_null,
    ion_string,
    ion_struct,
    ion_symbol,
    ion_timestamp,
)

if TYPE_CHECKING:
    from journal.ion_values import IonValue
    from journal.simulate.config import TableName

__all__ = [
    "BASE62",
    "DELETE_STATEMENTS",
    "INDEXES",
    "REDACT_STATEMENT",
    "DocumentFactory",
    "TableInfo",
    "create_index_statement",
    "create_table_statement",
    "insert_statement",
    "new_id",
    "select_statement",
]

BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
"""QLDB ids (documents, transactions, tables, strands) are 22 base62 characters."""

INDEXES: Final[dict[TableName, tuple[str, ...]]] = {
    "Person": ("GovId",),
    "DriversLicense": ("LicenseNumber", "PersonId"),
    "Vehicle": ("VIN",),
    "VehicleRegistration": ("LicensePlateNumber", "VIN"),
}
"""The DMV sample's indexes, created right after each table."""

_ALIAS: Final[dict[TableName, tuple[str, str]]] = {  # alias, key field used in WHERE clauses
    "Person": ("p", "GovId"),
    "DriversLicense": ("d", "LicenseNumber"),
    "Vehicle": ("v", "VIN"),
    "VehicleRegistration": ("r", "VIN"),
}

DELETE_STATEMENTS: Final[dict[TableName, str]] = {
    table: f"DELETE FROM {table} AS {alias} WHERE {alias}.{key} = ?" for table, (alias, key) in _ALIAS.items()
}

_SELECTS: Final[dict[TableName, tuple[str, ...]]] = {
    "Person": (
        "SELECT * FROM Person AS p WHERE p.GovId = ?",
        "SELECT p_id FROM Person AS p BY p_id WHERE p.FirstName = ? AND p.LastName = ?",
    ),
    "DriversLicense": ("SELECT * FROM DriversLicense AS d WHERE d.PersonId = ?",),
    "Vehicle": ("SELECT * FROM Vehicle AS v WHERE v.VIN = ?",),
    "VehicleRegistration": (
        "SELECT r.Owners FROM VehicleRegistration AS r WHERE r.VIN = ?",
        "SELECT * FROM VehicleRegistration AS r WHERE r.LicensePlateNumber = ?",
    ),
}

REDACT_STATEMENT: Final = "EXEC REDACT_REVISION ?, ?, ?"
"""How an application calls the redaction stored procedure (block address, table id, document id)."""

_FIRST = [
    "Raul",
    "Brent",
    "Alexis",
    "Melvin",
    "Salvatore",
    "Nova",
    "Testing",
    "Maria",
    "Wei",
    "Amara",
    "Jonas",
    "Priya",
    "Kenji",
    "Olga",
    "Diego",
    "Fatima",
    "Liam",
    "Chloe",
    "Mateo",
    "Aisha",
    "Noah",
    "Hana",
    "Omar",
    "Ingrid",
    "Tariq",
    "Lucia",
    "Sven",
    "Mei",
    "Kofi",
    "Elena",
    "Ravi",
    "Zoe",
    "Yusuf",
    "Greta",
]
_LAST = [
    "Lewis",
    "Logan",
    "Pena",
    "Parker",
    "Spencer",
    "Nguyen",
    "Garcia",
    "Okafor",
    "Tanaka",
    "Ivanova",
    "Silva",
    "Haddad",
    "Murphy",
    "Kowalski",
    "Chen",
    "Johansson",
    "Rossi",
    "Mensah",
    "Patel",
    "Schmidt",
    "Dubois",
    "Novak",
    "Reyes",
    "Larsen",
    "Costa",
    "Yilmaz",
    "Fischer",
    "Kim",
]
_STREETS = [
    "University Street",
    "Pine Street",
    "3rd Avenue",
    "Lake Washington Blvd",
    "Broadway",
    "Rainier Avenue S",
    "Aurora Avenue N",
    "Colby Avenue",
    "Pacific Avenue",
    "Bellevue Way NE",
    "Main Street",
    "Market Street",
]
_CITIES = (
    ("Seattle", "98109"),
    ("Everett", "98201"),
    ("Tacoma", "98402"),
    ("Bellevue", "98004"),
    ("Redmond", "98052"),
    ("Spokane", "99201"),
    ("Olympia", "98501"),
    ("Kent", "98032"),
    ("Renton", "98057"),
    ("Kirkland", "98033"),
)
_VEHICLES = (
    ("Sedan", "Audi", "A5"),
    ("Sedan", "Tesla", "Model S"),
    ("Motorcycle", "Ducati", "Monster 1200"),
    ("Semi", "Ford", "F 150"),
    ("Sedan", "Mercedes", "CLK 350"),
    ("SUV", "Toyota", "RAV4"),
    ("Truck", "Chevrolet", "Silverado"),
    ("Hatchback", "Volkswagen", "Golf"),
    ("SUV", "Subaru", "Outback"),
    ("Sedan", "Honda", "Accord"),
)
_COLORS = ("Silver", "Blue", "Yellow", "Black", "White", "Red", "Green", "Grey")
_LICENSE_TYPES = ("Learner", "Probationary", "Full")
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # VINs never use I, O or Q
_PENALTIES = ("90.25", "130.75", "442.30", "42.20", "0.00", "25.50", "310.00", "75.05")
_ODD_PENALTIES = ("9.0", "9", "100", "1.5E+2", "0.0", "12.125")  # other scales: 9.0 is not 9 in Ion
_PACIFIC = dt.timezone(dt.timedelta(hours=-7))


def new_id(rng: random.Random) -> str:
    """A fresh 22-character base62 id, as QLDB assigns to documents, transactions and tables."""
    return "".join(rng.choices(BASE62, k=22))


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A user table: its name and the id QLDB gave it."""

    name: TableName
    table_id: str


def create_table_statement(table: TableName) -> str:
    """The CREATE TABLE statement of a DMV table."""
    return f"CREATE TABLE {table}"


def create_index_statement(table: TableName, field: str) -> str:
    """The CREATE INDEX statement of one DMV index."""
    return f"CREATE INDEX ON {table} ({field})"


def insert_statement(table: TableName, rng: random.Random) -> str:
    """An INSERT as applications send it: one parameter, a document or a list of documents."""
    return f"INSERT INTO {table} ?" if rng.random() < 0.7 else f"INSERT INTO {table} VALUE ?"


def select_statement(table: TableName, rng: random.Random) -> str:
    """A read-only statement on `table`; it is recorded in transactionInfo but changes nothing."""
    return rng.choice(_SELECTS[table])


class DocumentFactory:
    """Makes new DMV documents and their next versions, with realistic Ion types.

    Args:
        rng: the workload's random stream (every choice comes from it).
        type_variety: chance that a value gets an unusual Ion type (see `SimulationConfig`).
    """

    def __init__(self, rng: random.Random, type_variety: float) -> None:
        self._rng = rng
        self._odd = type_variety

    # --- new documents ---------------------------------------------------------------------

    def new_document(self, table: TableName, pick_person: Callable[[], str]) -> IonValue:
        """A new document for `table`; `pick_person` gives a PersonId to refer to."""
        if table == "Person":
            return self._person()
        if table == "DriversLicense":
            return self._drivers_license(pick_person())
        if table == "Vehicle":
            return self._vehicle()
        return self._registration(pick_person, self._vin())

    def _person(self) -> IonValue:
        rng = self._rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        kind = rng.random()
        if kind < 0.6:
            gov_id, gov_type = self._license_number(last, first), "Driver License"
        elif kind < 0.8:
            gov_id, gov_type = (
                f"{rng.randrange(100, 1000)} {rng.randrange(100, 1000)} {rng.randrange(100, 1000)}",
                "SSN",
            )
        else:
            parts = (
                rng.randrange(100, 1000),
                rng.randrange(100, 1000),
                rng.randrange(10, 100),
                rng.randrange(100, 1000),
            )
            gov_id = f"{last[0]}{parts[0]}-{parts[1]}-{parts[2]}-{parts[3]}"  # P626-168-229-765
            gov_type = "Passport"
        return ion_struct(
            {
                "FirstName": ion_string(first),
                "LastName": ion_string(last),
                "DOB": ion_day(rng.randrange(1940, 2005), rng.randrange(1, 13), rng.randrange(1, 29)),
                "GovId": ion_string(gov_id),
                "GovIdType": ion_symbol(gov_type) if self._roll() else ion_string(gov_type),
                "Address": ion_null(IonType.STRING) if self._roll() else self._address(),
            }
        )

    def _drivers_license(self, person_id: str) -> IonValue:
        rng = self._rng
        start = dt.date(rng.randrange(2005, 2020), rng.randrange(1, 13), rng.randrange(1, 29))
        return ion_struct(
            {
                "PersonId": ion_string(person_id),
                "LicenseNumber": ion_string(self._license_number(rng.choice(_LAST), rng.choice(_FIRST))),
                "LicenseType": ion_string(rng.choice(_LICENSE_TYPES)),
                "ValidFromDate": ion_day(start.year, start.month, start.day),
                "ValidToDate": self._valid_to(start),
            }
        )

    def _vehicle(self) -> IonValue:
        rng = self._rng
        kind, make, model = rng.choice(_VEHICLES)
        return ion_struct(
            {
                "VIN": ion_string(self._vin()),
                "Type": ion_symbol(kind) if self._roll() else ion_string(kind),
                "Year": ion_int(rng.randrange(1995, 2021)),
                "Make": ion_string(make),
                "Model": ion_string(model),
                "Color": ion_null(IonType.STRING) if self._roll() else ion_string(rng.choice(_COLORS)),
            }
        )

    def _registration(self, pick_person: Callable[[], str], vin: str) -> IonValue:
        rng = self._rng
        start = dt.date(rng.randrange(2010, 2020), rng.randrange(1, 13), rng.randrange(1, 29))
        city = rng.choice(_CITIES)[0]
        secondary = [self._owner(pick_person()) for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))]
        return ion_struct(
            {
                "VIN": ion_string(vin),
                "LicensePlateNumber": ion_string(self._license_number(rng.choice(_LAST), rng.choice(_FIRST))),
                "State": ion_string("WA"),
                "City": ion_null(IonType.STRING) if self._roll() else ion_string(city),
                "PendingPenaltyTicketAmount": self._penalty(),
                "ValidFromDate": ion_day(start.year, start.month, start.day),
                "ValidToDate": self._valid_to(start),
                "Owners": ion_struct(
                    {"PrimaryOwner": self._owner(pick_person()), "SecondaryOwners": ion_list(secondary)}
                ),
            }
        )

    # --- updates ---------------------------------------------------------------------------

    def update_document(
        self, table: TableName, data: IonValue, pick_person: Callable[[], str]
    ) -> tuple[IonValue, str]:
        """The next version of a document and the statement that made it.

        Returns:
            The new data (a new struct; `data` is not modified) and the statement text.
        """
        rng = self._rng
        fields: dict[str, IonValue] = dict(data.items())
        if table == "Person":
            if rng.random() < 0.75:
                fields["Address"] = self._address()
                return ion_struct(fields), "UPDATE Person AS p SET p.Address = ? WHERE p.GovId = ?"
            fields["LastName"] = ion_string(rng.choice(_LAST))
            return ion_struct(fields), "UPDATE Person AS p SET p.LastName = ? WHERE p.GovId = ?"
        if table == "DriversLicense":
            if rng.random() < 0.5:
                fields["LicenseType"] = ion_string(rng.choice(_LICENSE_TYPES))
                return ion_struct(
                    fields
                ), "UPDATE DriversLicense AS d SET d.LicenseType = ? WHERE d.LicenseNumber = ?"
            fields["ValidToDate"] = self._renewal()
            return ion_struct(
                fields
            ), "UPDATE DriversLicense AS d SET d.ValidToDate = ? WHERE d.LicenseNumber = ?"
        if table == "Vehicle":
            fields["Color"] = ion_string(rng.choice(_COLORS))
            return ion_struct(fields), "UPDATE Vehicle AS v SET v.Color = ? WHERE v.VIN = ?"
        roll = rng.random()
        if roll < 0.45:
            fields["PendingPenaltyTicketAmount"] = self._penalty()
            text = "UPDATE VehicleRegistration AS r SET r.PendingPenaltyTicketAmount = ? WHERE r.VIN = ?"
        elif roll < 0.75:
            owners = data["Owners"]
            secondary = [*owners["SecondaryOwners"], self._owner(pick_person())]
            fields["Owners"] = ion_struct(
                {"PrimaryOwner": owners["PrimaryOwner"], "SecondaryOwners": ion_list(secondary)}
            )
            text = (
                "FROM VehicleRegistration AS r \nWHERE r.VIN = ?\n"
                "INSERT INTO r.Owners.SecondaryOwners\n    VALUE { 'PersonId' : ? }"
            )
        elif roll < 0.9:
            owners = data["Owners"]
            fields["Owners"] = ion_struct(
                {"PrimaryOwner": self._owner(pick_person()), "SecondaryOwners": owners["SecondaryOwners"]}
            )
            text = "UPDATE VehicleRegistration AS r SET r.Owners.PrimaryOwner.PersonId = ? WHERE r.VIN = ?"
        else:
            fields["ValidToDate"] = self._renewal()
            text = "UPDATE VehicleRegistration AS r SET r.ValidToDate = ? WHERE r.VIN = ?"
        return ion_struct(fields), text

    # --- values ----------------------------------------------------------------------------

    def _roll(self) -> bool:
        return self._rng.random() < self._odd

    def _address(self) -> IonValue:
        rng = self._rng
        city, zip_code = rng.choice(_CITIES)
        return ion_string(f"{rng.randrange(100, 20000)} {rng.choice(_STREETS)}, {city}, WA, {zip_code}")

    def _license_number(self, last: str, first: str) -> str:
        rng = self._rng
        tail = "".join(rng.choices(string.ascii_uppercase, k=2))
        return f"{last[:5].upper()}{first[0].upper()}{rng.randrange(100, 1000)}{tail}"

    def _vin(self) -> str:
        return "".join(self._rng.choices(_VIN_CHARS, k=17))

    def _owner(self, person_id: str) -> IonValue:
        return ion_struct({"PersonId": ion_string(person_id)})

    def _penalty(self) -> IonValue:
        rng = self._rng
        return ion_decimal(Decimal(rng.choice(_ODD_PENALTIES if self._roll() else _PENALTIES)))

    def _valid_to(self, start: dt.date) -> IonValue:
        rng = self._rng
        end = dt.date(start.year + rng.randrange(2, 6), start.month, start.day)
        if not self._roll():
            return ion_day(end.year, end.month, end.day)
        roll = rng.random()
        if roll < 0.3:
            return ion_null(IonType.TIMESTAMP)
        if roll < 0.6:  # minute precision with an offset: 2020-05-11T00:00-07:00
            return ion_timestamp(
                dt.datetime(end.year, end.month, end.day, tzinfo=_PACIFIC),
                precision=TimestampPrecision.MINUTE,
            )
        if roll < 0.8:  # month precision: 2020-05T
            return ion_timestamp(dt.datetime(end.year, end.month, 1), precision=TimestampPrecision.MONTH)
        moment = dt.datetime(end.year, end.month, end.day, 23, 59, 59, 999000, tzinfo=dt.UTC)
        return ion_timestamp(moment, precision=TimestampPrecision.SECOND, fractional_digits=3)

    def _renewal(self) -> IonValue:
        rng = self._rng
        return self._valid_to(dt.date(rng.randrange(2020, 2026), rng.randrange(1, 13), rng.randrange(1, 29)))
