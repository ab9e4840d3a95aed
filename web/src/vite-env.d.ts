/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_API_URL?: string;
}

interface Window {
  /** Set by config.js at run time; wins over VITE_API_URL. */
  STOCKROOM_API_URL?: string;
}
