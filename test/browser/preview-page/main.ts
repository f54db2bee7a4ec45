/** The page previews.browser.test.ts drives: the engine's preview makers, as the guest app would import them. */
import { makePhotoPreview, makeVideoPoster, previewSizes } from "../../../web/engine/index.ts";

Object.assign(window, { previews: { makePhotoPreview, makeVideoPoster, previewSizes } });
document.body.dataset.ready = "true";
