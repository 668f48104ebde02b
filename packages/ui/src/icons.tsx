/** Inline stroke icons: no icon font, nothing fetched, same look on every system. */
const PATHS = {
  dashboard: 'M3 3h7v9H3zM14 3h7v5h-7zM14 12h7v9h-7zM3 16h7v5H3z',
  peers: 'M4 8h14l-3.5-3.5M20 16H6l3.5 3.5',
  services: 'M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01',
  grants:
    'M15.5 3a5.5 5.5 0 0 0-5.2 7.3L3 17.6V21h3.4v-2.2h2.2v-2.2h2.2l1.9-1.9A5.5 5.5 0 1 0 15.5 3zM17 7h.01',
  sessions: 'M3 12h4l3-8 4 16 3-8h4',
  network:
    'M12 3.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM5 15.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM19 15.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM10.8 8.2 6.2 15.8M13.2 8.2l4.6 7.6M7.5 18h9',
  logs: 'M4 6h16M4 10h16M4 14h10M4 18h13',
  fleet: 'M3 4h18v6H3zM3 14h18v6H3zM7 7h.01M7 17h.01M11 7h6M11 17h6',
  audit: 'M9 4h6M8 4H5v17h14V4h-3M8 11l2.5 2.5L16 8M8 17h8',
  orgs: 'M3 21V7l6-4 6 4v14M15 11h6v10M3 21h18M7 9h4M7 13h4M7 17h4',
  search: 'M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM20 20l-4-4',
} as const;

/** Names of the available icons. */
export type IconName = keyof typeof PATHS;

/** One icon at `size` px in the current text colour. */
export function Icon(props: { name: IconName; size?: number; class?: string }) {
  const { name, size = 18 } = props;
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      class={props.class}
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
