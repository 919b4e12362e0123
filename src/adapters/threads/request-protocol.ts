/** What crosses to a request thread: one request, numbered by the side that waits for it. */
export interface ThreadRequest<Request> {
  readonly id: number;
  readonly request: Request;
}

/** Its answer: the thread's result, or why the request failed. */
export type ThreadReply<Result> =
  | { readonly id: number; readonly ok: true; readonly result: Result }
  | { readonly id: number; readonly ok: false; readonly error: string };
