import { ApiError } from "../../api/client";

// asApiError is the error as the API's, for Field; anything else (a network failure) is not.
export function asApiError(e: unknown): ApiError | null {
  return e instanceof ApiError ? e : null;
}

// underField says whether an API error field belongs to a form field: itself or a path under it
// (competencies[2] under competencies), as Field shows it.
export function underField(field: string, name: string): boolean {
  return field === name || field.startsWith(name + ".") || field.startsWith(name + "[");
}

// unplaced says whether some of an error would show nowhere if only the form's fields showed
// theirs: then the form shows the whole error above its button as well.
export function unplaced(e: unknown, formFields: string[]): boolean {
  if (!e) return false;
  const api = asApiError(e);
  if (!api || api.fields.length === 0) return true;
  return api.fields.some((f) => !formFields.some((n) => underField(f.field, n)));
}

export const inputClass = (e: ApiError | null, name: string) => `input ${e?.fieldMessage(name) ? "input-error" : ""}`;
