import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api/errors";
import { createProduct, deleteProduct, listProducts, updateProduct, type Product, type ProductPage } from "../api/client";
import { ConfirmInline } from "./ConfirmInline";
import { ErrorBanner, Field, fieldErrors, useFormAction } from "./Form";

const PAGE_SIZES = [5, 10, 20, 50];
const PRODUCT_FIELDS = ["name", "price", "description"];

interface Draft {
  name: string;
  price: string;
  description: string;
}

const EMPTY: Draft = { name: "", price: "", description: "" };

/** The form's text fields from a product, and back: one mapping for create and edit. */
function draftOf(product: Product): Draft {
  return { name: product.name, price: product.price, description: product.description ?? "" };
}

function bodyOf(draft: Draft) {
  return { name: draft.name, price: draft.price.trim(), description: draft.description || null };
}

function formatPrice(price: string): string {
  const value = Number(price);
  return Number.isFinite(value) ? value.toFixed(2) : price;
}

function ProductForm({
  id,
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  id: string;
  initial: Draft;
  submitLabel: string;
  onSubmit: (draft: Draft) => Promise<void>;
  onCancel?: () => void;
}) {
  const [draft, setDraft] = useState(initial);
  const { error, busy, submit } = useFormAction(async () => {
    await onSubmit(draft);
    if (!onCancel) setDraft(EMPTY); // the create form empties itself for the next product
  });

  const errors = fieldErrors(error);
  const set = (key: keyof Draft) => (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value });
  return (
    <form id={id} className="product-form" onSubmit={submit} noValidate>
      <ErrorBanner error={error} fields={PRODUCT_FIELDS} />
      <div className="row">
        <Field form={id} label="Name" name="name" value={draft.name} errors={errors} onChange={set("name")} />
        <Field form={id} label="Price" name="price" inputMode="decimal" placeholder="19.99" value={draft.price} errors={errors} onChange={set("price")} />
      </div>
      <Field form={id} label="Description" name="description" value={draft.description} errors={errors} onChange={set("description")} />
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : submitLabel}
        </button>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

export function Products() {
  const [limit, setLimit] = useState(10);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<ProductPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);

  const load = useCallback(async () => {
    try {
      const next = await listProducts(limit, offset);
      const known = next.total ?? 0; // unfiltered: always counted
      if (next.items.length === 0 && known > 0 && offset > 0) {
        // The last page emptied (e.g. after a delete): step back to the new last page.
        setOffset(Math.max(0, Math.floor((known - 1) / limit) * limit));
        return;
      }
      setPage(next);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [limit, offset]);

  function clearMessages() {
    setError(null);
    setNotice(null);
  }

  useEffect(() => {
    void load();
  }, [load]);

  async function create(draft: Draft) {
    clearMessages();
    const product = await createProduct(bodyOf(draft));
    setNotice(`Created “${product.name}”.`);
    await load();
  }

  async function save(product: Product, draft: Draft) {
    clearMessages();
    try {
      const updated = await updateProduct(product.id, bodyOf(draft), product.etag);
      setNotice(`Saved “${updated.name}”.`);
      setEditing(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        setEditing(null);
        await load();
        setError(new ApiError(404, "That product no longer exists; the list has been refreshed."));
        return;
      }
      if (err instanceof ApiError && err.status === 412) {
        // Saving would have overwritten someone else's change: show theirs instead.
        setEditing(null);
        await load();
        setError(
          new ApiError(
            412,
            "Someone changed this product since you opened it; its current values are shown. Make your change again.",
          ),
        );
        return;
      }
      throw err;
    }
    await load();
  }

  async function remove(product: Product) {
    clearMessages();
    setConfirming(null);
    try {
      await deleteProduct(product.id, product.etag);
      setNotice(`Deleted “${product.name}”.`);
      setError(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) {
        setError(new ApiError(412, "Someone changed this product since the list was loaded; it was not deleted. Look again."));
      } else {
        setError(err instanceof ApiError && err.status === 404 ? new ApiError(404, "That product was already deleted.") : err);
      }
    }
    await load();
  }

  const total = page?.total ?? 0;
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + (page?.items.length ?? 0), total);
  const pages = Math.max(1, Math.ceil(total / limit));
  const current = Math.floor(offset / limit) + 1;

  return (
    <>
      <section className="card">
        <h2>New product</h2>
        <ProductForm id="create-product" initial={EMPTY} submitLabel="Add product" onSubmit={create} />
      </section>

      <section className="card">
        <div className="list-head">
          <h2>Your products</h2>
          <label className="inline">
            Per page{" "}
            <select
              name="limit"
              value={limit}
              onChange={(e) => {
                setLimit(Number(e.target.value));
                setOffset(0);
              }}
            >
              {PAGE_SIZES.map((size) => (
                <option key={size} value={size}>
                  {size}
                </option>
              ))}
            </select>
          </label>
        </div>
        {notice && (
          <div className="banner info" role="status">
            {notice}
          </div>
        )}
        <ErrorBanner error={error} />
        {page === null && !error && <p className="muted">Loading…</p>}
        {page !== null && total === 0 && <p className="muted empty">No products yet. Add your first one above.</p>}
        {page !== null && page.items.length > 0 && (
          <table className="products">
            <thead>
              <tr>
                <th>Name</th>
                <th className="num">Price</th>
                <th>Description</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {page.items.map((product) =>
                editing === product.id ? (
                  <tr key={product.id} className="editing" data-product-id={product.id}>
                    <td colSpan={4}>
                      <ProductForm
                        id={`edit-product-${product.id}`}
                        initial={draftOf(product)}
                        submitLabel="Save"
                        onSubmit={(draft) => save(product, draft)}
                        onCancel={() => setEditing(null)}
                      />
                    </td>
                  </tr>
                ) : (
                  <tr key={product.id} data-product-id={product.id}>
                    <td className="name">{product.name}</td>
                    <td className="num price">{formatPrice(product.price)}</td>
                    <td className="description">{product.description}</td>
                    <td className="row-actions">
                      {confirming === product.id ? (
                        <ConfirmInline
                          question="Delete?"
                          confirmLabel="Yes, delete"
                          onConfirm={() => void remove(product)}
                          onCancel={() => setConfirming(null)}
                        />
                      ) : (
                        <>
                          <button type="button" className="secondary" onClick={() => setEditing(product.id)}>
                            Edit
                          </button>
                          <button type="button" className="secondary" onClick={() => setConfirming(product.id)}>
                            Delete
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        )}
        {total > 0 && (
          <nav className="pager" aria-label="Pages">
            <button type="button" className="secondary" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - limit))}>
              ← Previous
            </button>
            <span className="summary">
              {first}–{last} of {total} · page {current} of {pages}
            </span>
            <button type="button" className="secondary" disabled={offset + limit >= total} onClick={() => setOffset(offset + limit)}>
              Next →
            </button>
          </nav>
        )}
      </section>
    </>
  );
}
