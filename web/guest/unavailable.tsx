import { useEffect, useRef } from "preact/hooks";

/**
 * A page that can only say why there is nothing to do here (no link, an unknown or expired
 * link, an archived event, no connection). Its heading takes focus, so a screen reader starts there.
 */
export function Unavailable({ title, body, action }: { title: string; body: string; action?: { label: string; run: () => void } }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [title]);
  return (
    <main class="page guest">
      <section class="card unavailable" aria-labelledby="unavailable-heading">
        <h1 id="unavailable-heading" ref={heading} tabIndex={-1}>
          {title}
        </h1>
        <p>{body}</p>
        {action && (
          <button type="button" class="button button-primary" onClick={action.run}>
            {action.label}
          </button>
        )}
      </section>
    </main>
  );
}
