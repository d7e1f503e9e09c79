// Saving text the console made as a file: the one-time secret's .env and JSON, a usage CSV.

/** Saves the text as a file: a hidden link to a blob URL, clicked once, the URL revoked 10 s later. */
export function download(root: HTMLElement | DocumentFragment, fileName: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.rel = "noopener";
  link.style.display = "none";
  root.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
