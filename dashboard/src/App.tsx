import { lazy, Suspense } from "react";
import { Navigate, Route, Routes } from "react-router-dom";
import { useSession } from "./auth/session";
import { Layout } from "./components/Layout";
import { Loading } from "./components/ui";
import { LoginPage } from "./pages/Login";
import { Overview } from "./pages/Overview";

const Agents = lazy(() => import("./pages/Agents"));
const AgentDetail = lazy(() => import("./pages/AgentDetail"));
const Circles = lazy(() => import("./pages/Circles"));
const CircleDetail = lazy(() => import("./pages/CircleDetail"));
const ConversationView = lazy(() => import("./pages/Conversation"));
const Memory = lazy(() => import("./pages/Memory"));
const Pipelines = lazy(() => import("./pages/Pipelines"));
const PipelineEditor = lazy(() => import("./pages/PipelineEditor"));
const PipelineRun = lazy(() => import("./pages/PipelineRun"));
const Schedules = lazy(() => import("./pages/Schedules"));
const ScheduleDetail = lazy(() => import("./pages/ScheduleDetail"));
const Calendar = lazy(() => import("./pages/Calendar"));
const Events = lazy(() => import("./pages/Events"));
const Workspace = lazy(() => import("./pages/Workspace"));

export function App() {
  const access = useSession((s) => s.access);
  if (!access) return <LoginPage />;
  return (
    <Layout>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/" element={<Overview />} />
          <Route path="/agents" element={<Agents />} />
          <Route path="/agents/:id" element={<AgentDetail />} />
          <Route path="/circles" element={<Circles />} />
          <Route path="/circles/:name" element={<CircleDetail />} />
          <Route path="/conversations/:id" element={<ConversationView />} />
          <Route path="/memory" element={<Memory />} />
          <Route path="/pipelines" element={<Pipelines />} />
          <Route path="/pipelines/:id" element={<PipelineEditor />} />
          <Route path="/pipelines/:id/runs/:run" element={<PipelineRun />} />
          <Route path="/schedules" element={<Schedules />} />
          <Route path="/schedules/:id" element={<ScheduleDetail />} />
          <Route path="/calendar" element={<Calendar />} />
          <Route path="/events" element={<Events />} />
          <Route path="/projects/:id/workspace" element={<Workspace />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </Suspense>
    </Layout>
  );
}
