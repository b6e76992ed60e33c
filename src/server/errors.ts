/** HTTP errors in OpenAI's error-object shape: `{"error": {"message", "type", "param", "code"}}`. */
import { isBadInput } from '../errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, 'invalid_request_error', code, param);
export const notFound = (message: string, code: string | null = 'not_found') => new ApiError(404, message, 'invalid_request_error', code);

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(e: ApiError): OpenAIErrorBody {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

/** Maps anything thrown inside a route (fastify's own errors included) onto an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: { instancePath?: string; params?: Record<string, unknown>; message?: string }[]; validationContext?: string };
  if (e && Array.isArray(e.validation)) {
    const v = e.validation[0] ?? {};
    let param = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const extra = v.params?.additionalProperty ?? v.params?.missingProperty;
    if (typeof extra === 'string') param = param ? `${param}.${extra}` : extra;
    const what = v.params?.additionalProperty ? `unrecognized request argument: ${String(v.params.additionalProperty)}` : `${param || e.validationContext || 'body'} ${v.message ?? 'is invalid'}`;
    return new ApiError(400, `Invalid request: ${what}`, 'invalid_request_error', 'invalid_request', param || null);
  }
  if (e && e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'Request body is too large', 'invalid_request_error', 'request_too_large');
  if (e && e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, 'Unsupported Content-Type: send application/json', 'invalid_request_error', 'unsupported_media_type');
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.statusCode === 400 && e.code?.startsWith('FST_ERR_CTP') ? `Malformed request body: ${e.message}` : (e.message ?? 'Bad request'), 'invalid_request_error', e.code ?? null);
  }
  if (isBadInput(err)) return new ApiError(400, (err as Error).message, 'invalid_request_error');
  return new ApiError(500, 'Internal server error', 'server_error');
}
