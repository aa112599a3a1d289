import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; CI installs it with `apt-get install chromium`. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ChromiumSettings {
  /**
   * Offer WebGPU through SwiftShader, Chromium's software Vulkan (shipped in Debian's chromium-common), in
   * place of --disable-gpu; the page then picks its WebGPU path. Default false: no GPU, so wasm.
   */
  webgpu?: boolean;
}

const COMMON = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const SOFTWARE_WEBGPU = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader', '--use-angle=swiftshader'];

/** Headless Chromium for page tests; fails with the install command where it is missing. */
export async function launchChromium(settings: ChromiumSettings = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the web page tests need it; install it with \`sudo apt-get install chromium\` (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: [...COMMON, ...(settings.webgpu ? SOFTWARE_WEBGPU : ['--disable-gpu'])] });
}
