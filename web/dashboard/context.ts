import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { AdminApi } from "../shared/admin-api";

/** The signed-in admin API client; every screen below the sign-in reads it from here. */
export const ApiContext = createContext<AdminApi | null>(null);

export function useApi(): AdminApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi outside a signed-in dashboard");
  return api;
}
