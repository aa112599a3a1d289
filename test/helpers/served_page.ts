import type { Browser } from 'playwright-core';
import { exportWeb, type ExportWebSettings } from '../../src/web/export.js';
import { serve, type Server } from '../../src/web/serve.js';
import { launchChromium } from './browser.js';

/** A run exported as a page, served on a free port, and a headless Chromium to open it: the page tests' setup. */
export interface ServedPage {
  /** The exported page's folder. */
  out: string;
  server: Server;
  browser: Browser;
  /** Closes the browser, then the server. */
  close(): Promise<void>;
}

/** `root`: serve this folder instead of the page's own (the page then lives below it, e.g. at /web/). */
export async function servePage(settings: ExportWebSettings, root?: string): Promise<ServedPage> {
  const out = (await exportWeb(settings)).out;
  const server = await serve({ dir: root ?? out, port: 0 });
  const browser = await launchChromium();
  return {
    out, server, browser,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
