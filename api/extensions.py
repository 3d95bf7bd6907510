"""Flask extensions, created unbound and initialised by the app factory."""

from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from workflow.platform.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api()
