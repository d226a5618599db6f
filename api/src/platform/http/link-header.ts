import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * `Link: <…>; rel="next"` (RFC 8288) for a list page: the same request with `cursor` set to the
 * page's `next_cursor` and no `offset` (docs/data.md, "Paging"). The last page has none.
 */
export function withNextLink<T extends { next_cursor: string | null }>(
  request: FastifyRequest,
  reply: FastifyReply,
  page: T,
): T {
  if (page.next_cursor) {
    const url = new URL(request.url, 'http://localhost');
    url.searchParams.delete('offset');
    url.searchParams.set('cursor', page.next_cursor);
    reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
  }
  return page;
}
