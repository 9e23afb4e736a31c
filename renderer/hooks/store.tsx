import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { DmwApi } from '../../main/api/contract.js';
import type { AppState, AppStore } from '../stores/app-store.js';

const StoreContext = createContext<{ store: AppStore; api: DmwApi } | null>(null);

export function StoreProvider({ store, api, children }: { store: AppStore; api: DmwApi; children: ReactNode }) {
  return <StoreContext.Provider value={{ store, api }}>{children}</StoreContext.Provider>;
}

function useCtx() {
  const c = useContext(StoreContext);
  if (!c) throw new Error('StoreProvider missing');
  return c;
}

/** One value from the store (re-renders when that value changes). */
export function useApp<T>(selector: (s: AppState) => T): T {
  return useStore(useCtx().store, selector);
}

/** Several values at once, compared shallowly. */
export function useAppShallow<T extends object>(selector: (s: AppState) => T): T {
  return useStore(useCtx().store, useShallow(selector));
}

export function useApi(): DmwApi {
  return useCtx().api;
}
