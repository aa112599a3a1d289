/** SVG building blocks shared by the charts, and the SVG -> PNG step (sharp, which renders through librsvg). */
import sharp from 'sharp';

/**
 * Font stack for every label. librsvg resolves it through fontconfig: DejaVu Sans is what Debian/Ubuntu
 * images ship (fonts-dejavu-core) and the generic `sans-serif` maps to whatever sans font the host has.
 */
export const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/** matplotlib's tab10 palette: distinct colours, in the order a reader of the reference notebook expects. */
export const PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
] as const;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]!));
}

/** Rough advance width of `text` in DejaVu Sans at `fontSize` px (its mean glyph width is about 0.6 em). */
export function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}

export interface TextSettings {
  /** Font size in px. Default 13. */
  size?: number;
  /** 'start' | 'middle' | 'end'. Default 'start'. */
  anchor?: 'start' | 'middle' | 'end';
  /** Default '#222'. */
  color?: string;
  /** Default 'normal'. */
  weight?: 'normal' | 'bold';
  /** Degrees, clockwise, about (x, y). Default 0. */
  rotate?: number;
  /** Shift so that y is the text's vertical middle rather than its baseline. Default false. */
  middle?: boolean;
}

export function svgText(x: number, y: number, text: string, s: TextSettings = {}): string {
  const size = s.size ?? 13;
  const attrs = [
    `x="${fmt(x)}"`, `y="${fmt(s.middle ? y + size * 0.35 : y)}"`, `font-size="${size}"`,
    `text-anchor="${s.anchor ?? 'start'}"`, `fill="${s.color ?? '#222'}"`,
  ];
  if (s.weight === 'bold') attrs.push('font-weight="bold"');
  if (s.rotate) attrs.push(`transform="rotate(${s.rotate} ${fmt(x)} ${fmt(y)})"`);
  return `<text ${attrs.join(' ')}>${escapeXml(text)}</text>`;
}

/** A complete SVG document on a white background, every text in FONT_FAMILY. */
export function svgDocument(width: number, height: number, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`
    + `<rect width="${width}" height="${height}" fill="#ffffff"/>`
    + `<g font-family="${escapeXml(FONT_FAMILY)}">${body}</g></svg>`;
}

/** Render an SVG document to PNG bytes at one pixel per SVG unit. */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png({ compressionLevel: 9, palette: false }).toBuffer();
}

/** Coordinates with at most two decimals keep the SVG short and deterministic. */
export function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}
