// tus-js-client's Node build exports FileUrlStorage (lib/node/index.js: URLs kept in a JSON file,
// as an app would keep them across restarts), but its typings (lib/index.d.ts) leave it out.
import type { PreviousUpload, UrlStorage } from "tus-js-client";

declare module "tus-js-client" {
  export class FileUrlStorage implements UrlStorage {
    constructor(filePath: string);
    findAllUploads(): Promise<PreviousUpload[]>;
    findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]>;
    removeUpload(urlStorageKey: string): Promise<void>;
    addUpload(fingerprint: string, upload: PreviousUpload): Promise<string>;
  }
}
