"""``python -m gka_dash``: the command line (design §4), a thin shell over the core.

Every command exits non-zero with a one-line reason on bad input; every import is one
transaction, so a failed import leaves the database as it was.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from . import db, demo, info
from .access import users
from .errors import CLI_ERROR, GkaError
from .gesprek import approaches
from .importers.cbs_areas import DEFAULT_SIMPLIFY_M, import_areas
from .importers.duo_doorstroom import import_doorstroom
from .importers.duo_postcodes import import_pupils_by_postcode
from .importers.duo_schools import import_schools
from .importers.folder import import_folder
from .importers.indicators_csv import import_indicators
from .importers.open_data import KINDS, import_open_data
from .importers.statline import import_kerncijfers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gka_dash", description=
                                     "GKA Dashboard Gelijke Kansen: database, imports and users. "
                                     "The database is GKA_DATABASE_URL (default: data/gka.sqlite).")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init-db", help="create or upgrade the schema")
    sub.add_parser("demo", help="(re)build the synthetic demo data set and the demo users")

    importing = argparse.ArgumentParser(add_help=False)
    importing.add_argument("--by", default="cli", help="who imports, for the audit log (the Beheer page sets it)")

    p = sub.add_parser("import-areas", parents=[importing], help="a CBS wijk- en buurtkaart file (shp, gpkg, GeoJSON, zip)")
    p.add_argument("path", type=Path)
    p.add_argument("--level", required=True, choices=["gemeente", "wijk", "buurt"])
    p.add_argument("--year", required=True, type=int, help="the year of the indeling, e.g. 2015")
    p.add_argument("--crs", help="CRS to assume when the file declares none, e.g. EPSG:28992")
    p.add_argument("--simplify", type=float, default=DEFAULT_SIMPLIFY_M,
                   help=f"simplification tolerance in metres (default {DEFAULT_SIMPLIFY_M:g}; 0 = none)")

    p = sub.add_parser("import-schools", parents=[importing], help="a DUO vestigingen list (CSV) or a school point file")
    p.add_argument("path", type=Path)
    p.add_argument("--sector", choices=["PO", "VO"], help="default: VO when the file says so, else PO")
    p.add_argument("--wijk-year", type=int, help="wijk indeling for the point-in-polygon join (default: latest)")

    p = sub.add_parser("import-indicators", parents=[importing], help="the long-format CSV indicator,subject,period,group,value,n")
    p.add_argument("path", type=Path)

    p = sub.add_parser("import-open-data", parents=[importing], help="DUO/CBS open data: eindtoets, achterstandsscores, "
                                                "schooladviezen, APCG postcodes")
    p.add_argument("path", type=Path)
    p.add_argument("--kind", choices=KINDS, help="default: recognised from the columns")

    p = sub.add_parser("import-pupils-postcode", parents=[importing],
                       help="DUO pupils per school vestiging by home postcode (po: both layouts; vo: by leerjaar)")
    p.add_argument("path", type=Path)

    p = sub.add_parser("import-doorstroom", parents=[importing],
                       help="DUO Zittenblijven vo: zittenblijvers, opstromers, afstromers per vo vestiging")
    p.add_argument("path", type=Path)
    p.add_argument("--period", help="the base school year, e.g. 2023-2024 (default: from DUO's file name)")

    p = sub.add_parser("import-kerncijfers", parents=[importing],
                       help="CBS StatLine Kerncijfers wijken en buurten: a table id (via cbsodata) or its JSON/CSV export")
    p.add_argument("source", help="e.g. 85984NED, or a file exported from that table")
    p.add_argument("--year", type=int, help="default: the table's year")

    p = sub.add_parser("import-aanpakken", parents=[importing],
                       help="the catalogue of approaches for the gesprek (CSV, layout in docs/aanpakken.md)")
    p.add_argument("path", type=Path, nargs="?", help="default: the catalogue the project ships")

    p = sub.add_parser("import-folder", parents=[importing], help="every CBS/DUO file in a folder (and its subfolders), in the right order")
    p.add_argument("path", type=Path)
    p.add_argument("--year", type=int, help="year of CBS layers whose file name has none (e.g. 2015)")

    p = sub.add_parser("users", help="user administration")
    usub = p.add_subparsers(dest="action", required=True)
    a = usub.add_parser("add", help="add a user")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=["beheerder", "regio", "gemeente"])
    a.add_argument("--gemeente", action="append", default=[], help="GMxxxx; repeat for a regio user")
    a.add_argument("--name", default="")
    a.add_argument("--email", default="")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    usub.add_parser("list", help="list users")
    for action in ("remove", "unlock", "enable", "reset-password"):
        r = usub.add_parser(action, help=f"{action.replace('-', ' ')} a user")
        r.add_argument("username")
        if action == "reset-password":
            r.add_argument("--password-stdin", action="store_true")
    r = usub.add_parser("set-role", help="change role and scope")
    r.add_argument("username")
    r.add_argument("--role", required=True, choices=["beheerder", "regio", "gemeente"])
    r.add_argument("--gemeente", action="append", default=[])

    p = sub.add_parser("info", help="what the database holds")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _password(args) -> str:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Wachtwoord: ")


def _progress(i: int, total: int, item) -> None:
    done = round(20 * (i - 1) / total)
    print(f"[{'#' * done}{'.' * (20 - done)}] {i}/{total} {item.what}: {item.path.name}", file=sys.stderr, flush=True)


def _print_report(report) -> None:
    print("\n".join(report.lines()))


DEMO_NOUNS = {"areas": "gebieden", "schools": "scholen", "observations": "waarnemingen"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    engine = db.get_engine()
    try:
        if args.command != "info":  # reading what is there needs no schema upgrade (nor a writable file)
            db.init_db(engine)
        if args.command == "demo":
            counts = demo.build_demo(engine)
            print("synthetische demo gebouwd: " + ", ".join(f"{v} {DEMO_NOUNS.get(k, k)}" for k, v in counts.items()))
        elif args.command == "import-areas":
            _print_report(import_areas(engine, args.path, level=args.level, year=args.year,
                                       crs=args.crs, simplify_m=args.simplify, user=args.by))
        elif args.command == "import-schools":
            _print_report(import_schools(engine, args.path, sector=args.sector, wijk_year=args.wijk_year,
                                         user=args.by))
        elif args.command == "import-indicators":
            _print_report(import_indicators(engine, args.path, user=args.by))
        elif args.command == "import-open-data":
            _print_report(import_open_data(engine, args.path, kind=args.kind, user=args.by))
        elif args.command == "import-pupils-postcode":
            _print_report(import_pupils_by_postcode(engine, args.path, user=args.by))
        elif args.command == "import-doorstroom":
            _print_report(import_doorstroom(engine, args.path, period=args.period, user=args.by))
        elif args.command == "import-kerncijfers":
            _print_report(import_kerncijfers(engine, args.source, year=args.year, user=args.by))
        elif args.command == "import-aanpakken":
            _print_report(approaches.import_catalogue(engine, args.path or approaches.SHIPPED, user=args.by))
        elif args.command == "import-folder":
            result = import_folder(engine, args.path, year=args.year, progress=_progress, user=args.by)
            print(f"[{'#' * 20}] klaar", file=sys.stderr, flush=True)
            print("\n".join(result.lines()))
            if result.failed:
                return 2
        elif args.command == "users":
            _users(engine, args)
        elif args.command == "info":
            summary = info.summary(engine)
            print(json.dumps(summary, indent=2, ensure_ascii=False) if args.json else info.as_text(summary))
        elif args.command == "init-db":
            print(f"schema klaar in {info.summary(engine)['database']}")
    except (GkaError, demo.RealDataPresent) as exc:
        print(f"{CLI_ERROR}{exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"{CLI_ERROR}{db.describe_fault(exc, engine)}", file=sys.stderr)
        return 3
    return 0


def _users(engine, args) -> None:
    with engine.begin() as conn:
        if args.action == "add":
            created = users.add_user(conn, args.username, role=args.role, gemeenten=args.gemeente,
                                     password=_password(args), name=args.name, email=args.email)
            print(f"gebruiker {created.username} toegevoegd ({created.role} {' '.join(created.gemeenten)})")
        elif args.action == "list":
            for u in users.list_users(conn):
                state = "uitgezet" if u.disabled_at else "geblokkeerd" if u.locked() else "actief"
                fields = [u.username, u.role, ",".join(u.gemeenten) or "*", state] + (["demo"] if u.demo else [])
                print("\t".join(fields))
        elif args.action == "remove":
            users.remove_user(conn, args.username)
            print(f"gebruiker {args.username} verwijderd")
        elif args.action == "unlock":
            users.unlock(conn, args.username)
            print(f"blokkade van {args.username} opgeheven")
        elif args.action == "enable":
            users.enable(conn, args.username)
            print(f"account {args.username} weer aangezet")
        elif args.action == "reset-password":
            users.reset_password(conn, args.username, _password(args))
            print(f"wachtwoord van {args.username} opnieuw ingesteld")
        elif args.action == "set-role":
            users.set_role(conn, args.username, role=args.role, gemeenten=args.gemeente)
            print(f"gebruiker {args.username} is nu {args.role}")
