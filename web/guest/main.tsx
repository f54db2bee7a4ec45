import { render } from "preact";
import "../shared/styles.css";
import "./guest.css";
import { App } from "./app.tsx";
import { language } from "./i18n.ts";
import { joinTokenFromLocation } from "./join-token.ts";
import { registerServiceWorker } from "./service-worker.ts";

document.documentElement.lang = language;
render(<App joinToken={joinTokenFromLocation()} />, document.getElementById("app")!);
registerServiceWorker();
