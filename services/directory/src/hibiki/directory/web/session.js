// Who is using the page: the console session (cookie hibiki_session, from /login) or, for
// integrations and development, an access token kept for this tab.
import {api} from "/ui/hibiki.js";

export const NAV = [{href: "/console", key: "hb.console"}, {href: "/me", key: "hb.me"}];
const TENANT = /^[a-z0-9][a-z0-9_-]{0,63}$/;

// A platform operator names the tenant (?tenant=); everyone else works in their own.
export async function session() {
  const asked = new URLSearchParams(location.search).get("tenant");
  if (asked && TENANT.test(asked)) sessionStorage.setItem("hibiki.tenant", asked);
  const chosen = sessionStorage.getItem("hibiki.tenant");
  let me = null;
  try { me = await api("/api/v1/auth/me"); } catch (exc) { if (exc.status !== 401) throw exc; }
  if (!me) return null;
  const tenant = me.tenant !== "*" ? me.tenant : chosen;
  if (!tenant || !TENANT.test(tenant)) return null;
  return {tenant, base: `/api/v1/tenants/${tenant}`, me, viaSession: Boolean(me.session)};
}

export async function signOut(ctx, page) {
  if (ctx && ctx.viaSession) { try { await api("/api/v1/auth/logout", {method: "POST"}); } catch (_) { /* gone already */ } }
  sessionStorage.removeItem("hibiki.token");
  sessionStorage.removeItem("hibiki.tenant");
  location.assign(`/login?next=${page}`);
}

