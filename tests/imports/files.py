"""Import files made for tests: CSV text and real .xlsx workbooks written by openpyxl."""

from pathlib import Path

from openpyxl import Workbook


def write_csv(path: Path, rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    path.write_text("".join(",".join(row) + "\r\n" for row in rows), encoding=encoding)
    return path


def write_xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Bags")
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def link_rows(parents: int, children_each: int, *, parent_start: int = 1, child_prefix: str = "CH") -> list[list[str]]:
    """A links file's rows (header first): parents SB00001.. with children CH000001.. in order."""
    rows = [["parent", "child"]]
    n = 0
    for p in range(parent_start, parent_start + parents):
        for _ in range(children_each):
            n += 1
            rows.append([f"SB{p:05d}", f"{child_prefix}{n:06d}"])
    return rows
