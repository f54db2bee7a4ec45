import type { RefObject } from "preact";
import { useEffect, useState } from "preact/hooks";

/** Elements are watched early, a screen ahead, so what they load is there when they scroll in. */
const AHEAD = "100% 0px";

type Watcher = (inView: boolean) => void;

// One IntersectionObserver for every watched element: a list of a hundred files needs no hundred observers.
let observer: IntersectionObserver | null = null;
const watchers = new Map<Element, Watcher>();

function watch(element: Element, watcher: Watcher): () => void {
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const entry of entries) watchers.get(entry.target)?.(entry.isIntersecting);
    },
    { rootMargin: AHEAD },
  );
  watchers.set(element, watcher);
  observer.observe(element);
  return () => {
    watchers.delete(element);
    observer?.unobserve(element);
  };
}

/** True while the element is on screen or about a screen away from it. */
export function useInView(ref: RefObject<Element | null>): boolean {
  const [inView, setInView] = useState(false);
  useEffect(() => {
    const element = ref.current;
    return element ? watch(element, setInView) : undefined;
  }, [ref]);
  return inView;
}
