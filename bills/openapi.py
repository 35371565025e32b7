"""The OpenAPI 3 description of the bill API (bills/api.py), merged into the schema served at /api/openapi.json.

Written by hand, next to the API it describes; every /api/ answer of the test suite is validated against
the served document (tests/openapi.py). Refusals are the shared Error schema (overview/openapi.py).
"""

from typing import Any

from bills.choices import BillStatus

SUCCESS_CODES = ["created", "changed", "unchanged", "parent_added", "parent_removed", "finalised", "reopened"]

_KG = {"type": "string", "pattern": r"^-?\d+\.\d{3}$", "description": "Kilograms, three decimals.", "example": "30.000"}
_BILL_ID = {"name": "bill_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refused(description: str = "") -> dict:
    # Every refusal is the one Error body; the description says when it comes.
    return {"$ref": "#/components/responses/Refused", **({"description": description} if description else {})}


def _answers(success: str, *refusals: int, status: str = "200") -> dict[str, Any]:
    answers = {status: _json(_ref("BillAnswer"), success), "401": _refused("Not logged in."), "403": _refused()}
    for code in refusals:
        answers[str(code)] = _refused()
    return answers


_BILL_FIELDS = {
    "bill_number": {"type": "string", "maxLength": 50, "example": "INV-7"},
    "customer": {"type": "string", "maxLength": 200, "example": "Jaipur mandi"},
    "bill_date": {"type": "string", "format": "date"},
    "product": {"type": "integer", "description": "A product's id: its full-parent weight makes the expected weight."},
    "expected_parents": {"type": "integer", "minimum": 1, "maximum": 500},
    "notes": {"type": "string"},
}


def paths() -> dict[str, Any]:
    write = [{"session": [], "csrf": []}]
    read = [{"session": []}]
    return {
        "/api/bills": {
            "get": {
                "operationId": "listBills",
                "summary": "Search bills, a page at a time",
                "tags": ["bills"],
                "security": read,
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "In the number or customer.",
                    },
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(BillStatus.values)}},
                    {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {
                        "name": "sort",
                        "in": "query",
                        "description": "A column, '-' first for descending. Default -bill_date.",
                        "schema": {
                            "type": "string",
                            "enum": [
                                f"{sign}{key}"
                                for sign in ("", "-")
                                for key in ("bill_number", "customer", "bill_date", "status", "parents", "created_at")
                            ],
                        },
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                ],
                "responses": {
                    "200": _json(_ref("BillList"), "A page of bills."),
                    "401": _refused("Not logged in."),
                    "403": _refused(),
                },
            },
            "post": {
                "operationId": "createBill",
                "summary": "Create a draft bill",
                "tags": ["bills"],
                "security": write,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("BillFields")}},
                },
                "responses": _answers("Created.", 400, 409, 413, 415, status="201"),
            },
        },
        "/api/bills/{bill_id}": {
            "parameters": [_BILL_ID],
            "get": {
                "operationId": "getBill",
                "summary": "A bill with its parents, child counts and weights",
                "description": "A finalised bill shows its snapshot, taken when it was finalised.",
                "tags": ["bills"],
                "security": read,
                "parameters": [
                    {
                        "name": "children",
                        "in": "query",
                        "schema": {"type": "boolean"},
                        "description": "Add each parent's child codes.",
                    }
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["ok", "bill"],
                            "properties": {"ok": {"type": "boolean"}, "bill": _ref("Bill")},
                        },
                        "The bill.",
                    ),
                    "401": _refused("Not logged in."),
                    "403": _refused(),
                    "404": _refused("No such bill."),
                },
            },
            "patch": {
                "operationId": "updateBill",
                "summary": "Change a draft bill's details",
                "description": "Fields left out keep their values. Refused for a finalised bill.",
                "tags": ["bills"],
                "security": write,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {**_ref("BillFields"), "required": []}}},
                },
                "responses": _answers("Saved.", 400, 404, 409, 413, 415),
            },
        },
        "/api/bills/{bill_id}/parents": {
            "parameters": [_BILL_ID],
            "post": {
                "operationId": "addParentToBill",
                "summary": "Put a parent bag on a draft bill (a biller's scan)",
                "description": "Refused: not a parent code, an unknown parent, a parent already on this bill or on "
                "another (named), a finalised bill, a bill of 500 parents. More parents than expected, or a parent "
                "that is not full, is allowed with a `warning`.",
                "tags": ["bills"],
                "security": write,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "properties": {"code": {"type": "string", "example": "SB12345"}},
                            }
                        }
                    },
                },
                "responses": _answers("Added.", 404, 409, 413, 415, 422),
            },
        },
        "/api/bills/{bill_id}/parents/{code}": {
            "parameters": [_BILL_ID, {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
            "delete": {
                "operationId": "removeParentFromBill",
                "summary": "Take a parent bag off a draft bill",
                "tags": ["bills"],
                "security": write,
                "responses": _answers("Removed.", 404, 409, 422),
            },
        },
        "/api/bills/{bill_id}/finalise": {
            "parameters": [_BILL_ID],
            "post": {
                "operationId": "finaliseBill",
                "summary": "Finalise a bill: its parents, counts, child codes and weight rule are frozen",
                "tags": ["bills"],
                "security": write,
                "responses": _answers("Finalised.", 404, 409),
            },
        },
        "/api/bills/{bill_id}/reopen": {
            "parameters": [_BILL_ID],
            "post": {
                "operationId": "reopenBill",
                "summary": "Admins only: make a finalised bill a draft again (audited)",
                "tags": ["bills"],
                "security": write,
                "responses": _answers("Reopened.", 404, 409),
            },
        },
    }


def schemas() -> dict[str, Any]:
    return {
        "BillFields": {
            "type": "object",
            "required": ["bill_number", "customer", "bill_date", "product", "expected_parents"],
            "properties": _BILL_FIELDS,
        },
        "BillAnswer": {
            "type": "object",
            "required": ["ok", "code", "message", "warning", "bill"],
            "properties": {
                "ok": {"type": "boolean"},
                "code": {"type": "string", "enum": SUCCESS_CODES},
                "message": {"type": "string"},
                "warning": {"type": ["string", "null"], "description": "Done, but worth a look."},
                "bill": {"anyOf": [_ref("Bill"), {"type": "null"}]},
            },
        },
        "BillParent": {
            "type": "object",
            "required": [
                "qr_id",
                "product",
                "child_count",
                "capacity",
                "full",
                "child_weight_kg",
                "weight_kg",
                "added_at",
                "added_by",
                "returned_on",
                "returned_at",
            ],
            "properties": {
                "qr_id": {"type": "string", "example": "SB12345"},
                "product": {"type": "string", "example": "Mustard"},
                "child_count": {"type": "integer"},
                "capacity": {"type": "integer"},
                "full": {"type": "boolean"},
                "child_weight_kg": _KG,
                "weight_kg": _KG,
                "added_at": {"type": "string", "format": "date-time"},
                "added_by": {"type": ["string", "null"]},
                "returned_on": {
                    "type": ["string", "null"],
                    "description": "The return ticket the parent came back on; its snapshot is kept.",
                    "example": "RTN-20261203-0001",
                },
                "returned_at": {"type": ["string", "null"], "format": "date-time"},
                "child_codes": {"type": "array", "items": {"type": "string"}, "description": "With ?children=1."},
            },
        },
        "Bill": {
            "type": "object",
            "required": [
                "id",
                "bill_number",
                "customer",
                "bill_date",
                "status",
                "expected_parents",
                "notes",
                "product_id",
                "product",
                "full_parent_weight_kg",
                "parent_count",
                "child_count",
                "actual_weight_kg",
                "expected_weight_kg",
                "difference_kg",
                "weight_state",
                "created_by",
                "created_at",
                "updated_at",
                "finalised_at",
                "finalised_by",
                "url",
                "parents",
            ],
            "properties": {
                "id": {"type": "integer"},
                "bill_number": {"type": "string"},
                "customer": {"type": "string"},
                "bill_date": {"type": "string", "format": "date"},
                "status": {"type": "string", "enum": list(BillStatus.values)},
                "expected_parents": {"type": "integer"},
                "notes": {"type": "string"},
                "product_id": {"type": "integer"},
                "product": {"type": "string"},
                "full_parent_weight_kg": {
                    **_KG,
                    "description": "The bill product's full-parent weight (frozen once finalised).",
                },
                "parent_count": {"type": "integer"},
                "child_count": {"type": "integer"},
                "actual_weight_kg": {
                    **_KG,
                    "description": "Sum over parents of children x their product's child weight.",
                },
                "expected_weight_kg": {**_KG, "description": "expected_parents x full_parent_weight_kg."},
                "difference_kg": {**_KG, "description": "Actual minus expected: negative when short."},
                "weight_state": {"type": "string", "enum": ["short", "exact", "over"]},
                "created_by": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "finalised_at": {"type": ["string", "null"], "format": "date-time"},
                "finalised_by": {"type": ["string", "null"]},
                "url": {"type": "string", "description": "The bill's page."},
                "parents": {"type": "array", "items": _ref("BillParent")},
            },
        },
        "BillSummary": {
            "type": "object",
            "required": [
                "id",
                "bill_number",
                "customer",
                "bill_date",
                "status",
                "product",
                "expected_parents",
                "parent_count",
                "created_at",
                "finalised_at",
                "url",
            ],
            "properties": {
                "id": {"type": "integer"},
                "bill_number": {"type": "string"},
                "customer": {"type": "string"},
                "bill_date": {"type": "string", "format": "date"},
                "status": {"type": "string", "enum": list(BillStatus.values)},
                "product": {"type": "string"},
                "expected_parents": {"type": "integer"},
                "parent_count": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "finalised_at": {"type": ["string", "null"], "format": "date-time"},
                "url": {"type": "string"},
            },
        },
        "BillList": {
            "type": "object",
            "required": ["ok", "count", "page", "pages", "bills"],
            "properties": {
                "ok": {"type": "boolean"},
                "count": {"type": "integer"},
                "page": {"type": "integer"},
                "pages": {"type": "integer"},
                "bills": {"type": "array", "items": _ref("BillSummary")},
            },
        },
    }
