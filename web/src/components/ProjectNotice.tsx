import { useProjects } from './ProjectsContext';

/** Says why a project disappeared (removed, deleted) until dismissed. */
export function ProjectNotice() {
  const { notice, dismissNotice } = useProjects();
  if (!notice) return null;
  return (
    <div className="banner banner-warn project-notice" role="alert" data-testid="project-notice">
      <p>{notice}</p>
      <button type="button" className="ghost" onClick={dismissNotice}>
        Dismiss
      </button>
    </div>
  );
}
