export { importOnnx, formatImportReport, IMAGENET_NORMALIZATION, IMPORT_OPSETS, type ImportedModel, type ImportReport, type ImportSettings } from './import.js';
