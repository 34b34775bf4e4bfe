"""Product master data files: reading and writing CSV, XLSX and an XML rendition of the
NMPA UDI database (UDID) download, and turning each row into a `MasterRecord` or into the
reasons it is refused (row, column, value, reason in Chinese and English).

## UDID XML field mapping

The UDID publishes its data as ZIP archives of XML files, one `<device>` per UDI-DI, whose
element names are the pinyin initials of the Chinese field names. This reader takes the
elements below (any other is ignored), inside any root element; a ZIP is read file by file.

| element | UDID field | record field |
|---|---|---|
| `ZXXSDYCPBS` | 最小销售单元产品标识 | `gtin` |
| `CPBSBMTXMC` | 产品标识编码体系名称 (GS1, MA, AHM) | `issuing_agency` |
| `CPMCTYMC` | 产品名称/通用名称 | `name_zh` |
| `GGXH` | 规格型号 | `model` |
| `ZCZBHHZBAPZBH` | 注册证编号或者备案凭证编号 | `registration_number` |
| `GLLB` | 管理类别 (Ⅰ类/Ⅱ类/Ⅲ类) | `device_class` |
| `FLBM` | 分类编码 | `classification_code` |
| `YLQXZCRBARMC` | 医疗器械注册人/备案人名称 | `manufacturer_zh` |
| `YLQXZCRBARYWMC` | 医疗器械注册人/备案人英文名称 | `manufacturer_en` |
| `SCBSSFBHXLH` | 生产标识是否包含序列号 (是/否) | `serialised` |
| `SFBJWYCXSY` | 是否标记为一次性使用 (是/否) | `single_use` |
| `devicePackage/BZCPBS` | 包装产品标识 | package level `gtin` |
| `devicePackage/BZNHXYJBZCPBS` | 包装内含小一级包装产品标识 | package level `child_gtin` |
| `devicePackage/BZNHXYJCPBSSL` | 包装内含小一级产品标识数量 | package level `quantity` |
| `deviceStorage/CCHCZTJ` | 储存或操作条件 (温度, 湿度) | which range |
| `deviceStorage/ZDZ`, `ZGZ` | 最低值, 最高值 (℃, %) | `temp_min`/`temp_max`, `humidity_*` |
| `TSCCHCZTJ` | 特殊储存或操作条件 | `storage_zh` |

The UDID publishes no English names and no certificate expiry; MedLedger's own files add
`ML_CPYWMC` (product English name), `ML_ZCZYXQZ` (注册证有效期至, the certificate's expiry)
and `ML_TSCCHCZTJYW` (storage conditions in English). `GLLB` stands for the class where
the UDID's own element name is not public in its download description.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from defusedxml import ElementTree as SafeXml
from pydantic import ValidationError

from medledger.domain.master_data import IssuingAgency, MasterRecord, PackageLevelIn, Storage
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import validate_gtin

__all__ = [
    "COLUMNS",
    "FORMATS",
    "FileRow",
    "Problem",
    "RowParse",
    "parse_row",
    "read_rows",
    "write_records",
]

Format = Literal["csv", "xlsx", "udid"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "udid")
MAX_ROWS = 5000
PACKAGE_LEVELS = 3

# Each column: its key and its Chinese heading (a file may use either).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("gtin", "最小销售单元产品标识"),
    ("issuing_agency", "发码机构"),
    ("name_zh", "产品名称"),
    ("name_en", "产品英文名称"),
    ("model", "规格型号"),
    ("registration_number", "注册证编号或者备案凭证编号"),
    ("registration_expiry", "注册证有效期至"),
    ("device_class", "管理类别"),
    ("classification_code", "分类编码"),
    ("manufacturer_zh", "医疗器械注册人/备案人名称"),
    ("manufacturer_en", "医疗器械注册人/备案人英文名称"),
    ("serialised", "生产标识是否包含序列号"),
    ("single_use", "是否标记为一次性使用"),
    ("temp_min", "最低储存温度(℃)"),
    ("temp_max", "最高储存温度(℃)"),
    ("humidity_min", "最低储存湿度(%)"),
    ("humidity_max", "最高储存湿度(%)"),
    ("storage_zh", "储存或操作条件"),
    ("storage_en", "储存或操作条件(英文)"),
    *(
        pair
        for n in range(1, PACKAGE_LEVELS + 1)
        for pair in (
            (f"package{n}_gtin", f"{n}级包装产品标识"),
            (f"package{n}_quantity", f"{n}级包装内含小一级数量"),
        )
    ),
)
_KEY_OF = {k: k for k, _ in COLUMNS} | {zh: k for k, zh in COLUMNS}

_UDID = {
    "ZXXSDYCPBS": "gtin",
    "CPBSBMTXMC": "issuing_agency",
    "CPMCTYMC": "name_zh",
    "ML_CPYWMC": "name_en",
    "GGXH": "model",
    "ZCZBHHZBAPZBH": "registration_number",
    "ML_ZCZYXQZ": "registration_expiry",
    "GLLB": "device_class",
    "FLBM": "classification_code",
    "YLQXZCRBARMC": "manufacturer_zh",
    "YLQXZCRBARYWMC": "manufacturer_en",
    "SCBSSFBHXLH": "serialised",
    "SFBJWYCXSY": "single_use",
    "TSCCHCZTJ": "storage_zh",
    "ML_TSCCHCZTJYW": "storage_en",
}


@dataclass(frozen=True, slots=True)
class Problem:
    column: str
    value: str
    reason_zh: str
    reason_en: str


@dataclass(frozen=True, slots=True)
class FileRow:
    """One product of a file: its row (or `<device>`) number and its fields by key."""

    number: int
    fields: dict[str, str]


@dataclass(slots=True)
class RowParse:
    row: int
    gtin: str
    record: MasterRecord | None = None
    problems: list[Problem] = field(default_factory=list)


class FileError(ValueError):
    """The file as a whole cannot be read."""

    def __init__(self, reason_zh: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en


# ------------------------------------------------------------------ reading


def read_rows(filename: str, data: bytes) -> list[FileRow]:
    """The products of a CSV, XLSX, UDID XML or ZIP of UDID XML file (by its name)."""
    name = filename.lower()
    if name.endswith(".csv"):
        rows = _csv_rows(data)
    elif name.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif name.endswith(".xml"):
        rows = list(_udid_rows(data, start=1))
    elif name.endswith(".zip"):
        rows = _zip_rows(data)
    else:
        raise FileError(
            f"不支持的文件类型：{filename}（应为 .csv、.xlsx、.xml 或 .zip）",
            f"unsupported file type: {filename} (expected .csv, .xlsx, .xml or .zip)",
        )
    if len(rows) > MAX_ROWS:
        raise FileError(
            f"文件有 {len(rows)} 个产品，最多 {MAX_ROWS} 个",
            f"the file holds {len(rows)} products, at most {MAX_ROWS}",
        )
    return rows


def _table(header: list[Any], body: Iterable[tuple[int, list[Any]]]) -> list[FileRow]:
    keys = [_KEY_OF.get(str(h or "").strip()) for h in header]
    if "gtin" not in keys:
        raise FileError(
            "表头缺少“最小销售单元产品标识”（gtin）列",
            "the header has no gtin (最小销售单元产品标识) column",
        )
    rows = []
    for number, cells in body:
        values = {k: _cell(v) for k, v in zip(keys, cells, strict=False) if k is not None}
        if any(values.values()):
            rows.append(FileRow(number, values))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(data: bytes) -> list[FileRow]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise FileError(
                "CSV 文件不是 UTF-8 或 GB18030 编码", "the CSV is neither UTF-8 nor GB18030"
            ) from exc
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        raise FileError("文件为空", "the file is empty")
    return _table(lines[0], ((i + 2, row) for i, row in enumerate(lines[1:])))


def _xlsx_rows(data: bytes) -> list[FileRow]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise FileError("无法读取 XLSX 文件", f"cannot read the XLSX file: {exc}") from exc
    sheet = book.worksheets[0]
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    book.close()
    if not lines:
        raise FileError("文件为空", "the file is empty")
    return _table(lines[0], ((i + 2, row) for i, row in enumerate(lines[1:])))


def _zip_rows(data: bytes) -> list[FileRow]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise FileError("无法读取 ZIP 文件", "cannot read the ZIP file") from exc
    rows: list[FileRow] = []
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.filename.lower().endswith(".xml") and info.file_size < 64 * 2**20:
                rows.extend(_udid_rows(archive.read(info), start=len(rows) + 1))
    return rows


def _udid_rows(data: bytes, *, start: int) -> Iterator[FileRow]:
    try:
        root = SafeXml.fromstring(data)
    except Exception as exc:  # ParseError, or defusedxml's refusal of entities
        raise FileError("无法读取 XML 文件", f"cannot read the XML: {exc}") from exc
    devices = [root] if root.tag == "device" else root.iter("device")
    for number, device in enumerate(devices, start=start):
        fields: dict[str, str] = {}
        for child in device:
            key = _UDID.get(child.tag)
            if key is not None:
                fields[key] = (child.text or "").strip()
        for n, package in enumerate(device.findall("devicePackage")[:PACKAGE_LEVELS], start=1):
            fields[f"package{n}_gtin"] = (package.findtext("BZCPBS") or "").strip()
            fields[f"package{n}_child"] = (package.findtext("BZNHXYJBZCPBS") or "").strip()
            fields[f"package{n}_quantity"] = (package.findtext("BZNHXYJCPBSSL") or "").strip()
        for storage in device.findall("deviceStorage"):
            kind = (storage.findtext("CCHCZTJ") or "").strip()
            which = "temp" if "温度" in kind else "humidity" if "湿度" in kind else None
            if which is not None:
                fields[f"{which}_min"] = (storage.findtext("ZDZ") or "").strip()
                fields[f"{which}_max"] = (storage.findtext("ZGZ") or "").strip()
        yield FileRow(number, fields)


# ------------------------------------------------------------------ one row


class _Row:
    def __init__(self, row: FileRow) -> None:
        self.fields = row.fields
        self.problems: list[Problem] = []

    def refuse(self, column: str, zh: str, en: str) -> None:
        self.problems.append(Problem(column, self.fields.get(column, ""), zh, en))

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.fields.get(column, "")
        if required and not value:
            self.refuse(column, "必填项为空", "required, but empty")
        return value

    def gtin(self, column: str, *, required: bool = True) -> str | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            return validate_gtin(value)
        except Gs1Error as exc:
            self.refuse(column, "不是有效的 GTIN（8/12/13/14 位数字，校验位正确）", str(exc))
            return None

    def flag(self, column: str, *, default: bool) -> bool:
        value = self.text(column).lower()
        if not value:
            return default
        if value in ("是", "yes", "y", "true", "1"):
            return True
        if value in ("否", "no", "n", "false", "0"):
            return False
        self.refuse(column, "应为“是”或“否”", "must be yes or no (是/否)")
        return default

    def number(self, column: str, *, scale: int = 1, required: bool = False) -> int | None:
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            return round(float(value.replace("℃", "").replace("%", "")) * scale)
        except ValueError:
            self.refuse(column, "不是数字", "not a number")
            return None

    def quantity(self, column: str) -> int | None:
        value = self.text(column, required=True)
        if value and not (value.isdigit() and 1 <= int(value) < 2**32):
            self.refuse(column, "应为正整数", "must be a whole number of at least 1")
            return None
        return int(value) if value else None

    def day(self, column: str) -> date | None:
        value = self.text(column, required=True)
        if not value:
            return None
        digits = re.sub(r"[^0-9]", "", value)
        try:
            return datetime.strptime(digits, "%Y%m%d").date()
        except ValueError:
            self.refuse(column, "不是有效日期（如 2030-06-30）", "not a date (e.g. 2030-06-30)")
            return None


_CLASSES = {
    "1": 1,
    "i": 1,
    "ⅰ": 1,
    "一": 1,
    "2": 2,
    "ii": 2,
    "ⅱ": 2,
    "二": 2,
    "3": 3,
    "iii": 3,
    "ⅲ": 3,
    "三": 3,
}
_AGENCIES = {"gs1": "GS1", "ma": "MA", "ma码": "MA", "idcode": "MA", "ahm": "AHM", "ziiot": "AHM"}


def parse_row(row: FileRow) -> RowParse:
    """The record of one file row, or what is wrong with it."""
    r = _Row(row)
    gtin = r.gtin("gtin")
    agency = _AGENCIES.get(r.text("issuing_agency").lower() or "gs1")
    if agency is None:
        r.refuse(
            "issuing_agency", "发码机构应为 GS1、MA 或 AHM", "issuing agency must be GS1, MA or AHM"
        )
    raw_class = re.sub(r"^第|类$|class\s*", "", r.text("device_class", required=True).lower())
    device_class = _CLASSES.get(raw_class.strip())
    if device_class is None and r.fields.get("device_class"):
        r.refuse("device_class", "管理类别应为Ⅰ、Ⅱ或Ⅲ类", "class must be I, II or III")
    temp_min = r.number("temp_min", scale=10, required=True)
    temp_max = r.number("temp_max", scale=10, required=True)
    if temp_min is not None and temp_max is not None and temp_min > temp_max:
        r.refuse("temp_min", "最低温度高于最高温度", "the minimum temperature is above the maximum")
    packages = []
    child = gtin
    for n in range(1, PACKAGE_LEVELS + 1):
        if not r.fields.get(f"package{n}_gtin"):
            continue
        package = r.gtin(f"package{n}_gtin")
        inner = r.gtin(f"package{n}_child", required=False) or child
        quantity = r.quantity(f"package{n}_quantity")
        if package and inner and quantity:
            packages.append(PackageLevelIn(gtin=package, child_gtin=inner, quantity=quantity))
        child = package
    fields: dict[str, Any] = {
        "gtin": gtin,
        "issuing_agency": IssuingAgency(agency or "GS1"),
        "name_zh": r.text("name_zh", required=True),
        "name_en": r.text("name_en"),
        "model": r.text("model", required=True),
        "registration_number": r.text("registration_number", required=True),
        "registration_expiry": r.day("registration_expiry"),
        "device_class": device_class,
        "classification_code": r.text("classification_code"),
        "manufacturer_zh": r.text("manufacturer_zh", required=True),
        "manufacturer_en": r.text("manufacturer_en"),
        "serialised": r.flag("serialised", default=False),
        "single_use": r.flag("single_use", default=False),
    }
    storage: dict[str, Any] = {
        "temp_min": temp_min,
        "temp_max": temp_max,
        "humidity_min": r.number("humidity_min"),
        "humidity_max": r.number("humidity_max"),
        "conditions_zh": r.text("storage_zh"),
        "conditions_en": r.text("storage_en"),
    }
    result = RowParse(row.number, gtin or r.fields.get("gtin", ""))
    if not r.problems:
        try:
            result.record = MasterRecord(
                **fields, storage=Storage(**storage), packages=tuple(packages)
            )
        except ValidationError as exc:
            for error in exc.errors():
                column = next((str(p) for p in error["loc"] if str(p) in _KEY_OF), "")
                r.refuse(column, f"取值无效：{error['msg']}", error["msg"])
    result.problems = r.problems
    return result


# ------------------------------------------------------------------ writing


def _flat(record: MasterRecord) -> dict[str, str]:
    s = record.storage
    flat = {
        "gtin": record.gtin,
        "issuing_agency": record.issuing_agency.value,
        "name_zh": record.name_zh,
        "name_en": record.name_en,
        "model": record.model,
        "registration_number": record.registration_number,
        "registration_expiry": record.registration_expiry.isoformat(),
        "device_class": str(record.device_class),
        "classification_code": record.classification_code,
        "manufacturer_zh": record.manufacturer_zh,
        "manufacturer_en": record.manufacturer_en,
        "serialised": "是" if record.serialised else "否",
        "single_use": "是" if record.single_use else "否",
        "temp_min": f"{s.temp_min / 10:g}",
        "temp_max": f"{s.temp_max / 10:g}",
        "humidity_min": "" if s.humidity_min is None else str(s.humidity_min),
        "humidity_max": "" if s.humidity_max is None else str(s.humidity_max),
        "storage_zh": s.conditions_zh,
        "storage_en": s.conditions_en,
    }
    for n, level in enumerate(record.packages, start=1):
        flat[f"package{n}_gtin"] = level.gtin
        flat[f"package{n}_quantity"] = str(level.quantity)
    return flat


def write_records(records: Iterable[MasterRecord], fmt: Format) -> bytes:
    """`records` as a CSV (UTF-8 with BOM, Chinese headings), an XLSX or UDID XML."""
    if fmt == "udid":
        return _udid_xml(records)
    headings = [zh for _, zh in COLUMNS]
    lines = [[_flat(r).get(k, "") for k, _ in COLUMNS] for r in records]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headings)
        writer.writerows(lines)
        return out.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "master data"
    sheet.append(headings)
    for line in lines:
        sheet.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _udid_xml(records: Iterable[MasterRecord]) -> bytes:
    root = Element("udid")
    by_key = {v: k for k, v in _UDID.items()}
    for record in records:
        device = SubElement(root, "device")
        flat = _flat(record) | {"device_class": ("Ⅰ类", "Ⅱ类", "Ⅲ类")[record.device_class - 1]}
        for key, element in by_key.items():
            SubElement(device, element).text = flat.get(key, "")
        for level in record.packages:
            package = SubElement(device, "devicePackage")
            SubElement(package, "BZCPBS").text = level.gtin
            SubElement(package, "BZNHXYJBZCPBS").text = level.child_gtin
            SubElement(package, "BZNHXYJCPBSSL").text = str(level.quantity)
        storage = SubElement(device, "deviceStorage")
        SubElement(storage, "CCHCZTJ").text = "温度"
        SubElement(storage, "ZDZ").text = flat["temp_min"]
        SubElement(storage, "ZGZ").text = flat["temp_max"]
        SubElement(storage, "JLDW").text = "℃"
        if record.storage.humidity_min is not None or record.storage.humidity_max is not None:
            humidity = SubElement(device, "deviceStorage")
            SubElement(humidity, "CCHCZTJ").text = "湿度"
            SubElement(humidity, "ZDZ").text = flat["humidity_min"]
            SubElement(humidity, "ZGZ").text = flat["humidity_max"]
            SubElement(humidity, "JLDW").text = "%RH"
    indent(root)
    body = tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode()
