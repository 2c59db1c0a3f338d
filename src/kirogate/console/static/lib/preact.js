// The console's reactive layer: preact and its hooks, with htm for markup (no build step).
import { h, render, Fragment, createContext } from "../vendor/preact.mjs";
import htm from "../vendor/htm.mjs";

export { h, render, Fragment, createContext };
export {
  useState,
  useEffect,
  useLayoutEffect,
  useRef,
  useMemo,
  useCallback,
  useContext,
  useReducer,
  useId,
} from "../vendor/preact-hooks.mjs";

export const html = htm.bind(h);
