"""A page of products from a list query: filters, order, and the cursor that resumes it."""

from typing import get_args
from urllib.parse import quote, urlencode

from fastapi import Request, Response

from api.cursors import CursorCodec
from models import products
from models.database import Executor
from models.product_schemas import ProductPage, ProductQuery, price_to_cents
from models.products import Filters, Order, SortKey, search_pattern

# The API's names for the orders, as the products table names their columns.
COLUMNS: dict[str, SortKey] = {"price": "price_cents"}
COLUMNS |= {key: key for key in get_args(SortKey) if key != "price_cents"}


# What the next page's link leaves out of this one's query: it starts from the cursor instead.
RESTART = frozenset({"cursor", "offset"})


def order_of(query: ProductQuery) -> Order:
    name = query.sort.removeprefix("-")
    return Order(key=COLUMNS[name], descending=query.sort.startswith("-"))


def filters_of(query: ProductQuery) -> Filters:
    return Filters(
        search=None if query.q is None else search_pattern(query.q),
        min_price_cents=None if query.min_price is None else price_to_cents(query.min_price),
        max_price_cents=None if query.max_price is None else price_to_cents(query.max_price),
    )


async def product_page(
    db: Executor,
    cursors: CursorCodec,
    *,
    owner_id: int,
    query: ProductQuery,
    request: Request,
) -> Response:
    """The page as a JSON response, with a `Link` to the next one when there is one."""
    order, filters = order_of(query), filters_of(query)
    bound_to = query.fingerprint()
    after = None
    if query.cursor is not None:
        after = cursors.decode(query.cursor, owner_id=owner_id, query=bound_to)
    found, total = await products.page(
        db,
        owner_id=owner_id,
        filters=filters,
        order=order,
        after=after,
        limit=query.limit + 1,  # one more than shown: is there a page after this one?
        offset=query.offset,
        counted=not filters.narrowing or query.count == "exact",
    )
    shown = found[: query.limit]
    next_cursor = None
    headers = {}
    if len(found) > query.limit:
        last = shown[-1]
        value = getattr(last, order.key)
        next_cursor = cursors.encode(
            owner_id=owner_id, query=bound_to, value=value, last_id=last.id
        )
        # A reference relative to this request, never built from its Host header (nor with
        # request.url, which parses that header to build an absolute URL first).
        kept = [(k, v) for k, v in request.query_params.multi_items() if k not in RESTART]
        # The cursor is URL-safe as made: only what the client sent is quoted again.
        following = "&".join(filter(None, (urlencode(kept), f"cursor={next_cursor}")))
        headers["Link"] = f'<{quote(request.scope["path"])}?{following}>; rel="next"'
    body = ProductPage.json_of(
        shown, total=total, limit=query.limit, offset=query.offset, next_cursor=next_cursor
    )
    return Response(body, headers=headers, media_type="application/json")
